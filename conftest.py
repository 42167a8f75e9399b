"""Settings every test in the repository shares."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _cli_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The command line keeps persistent state in ./.supervm by default: never in the repo."""
    path = tmp_path_factory.mktemp("supervm-data")
    monkeypatch.setenv("SUPERVM_DATA_DIR", str(path))
    return path
