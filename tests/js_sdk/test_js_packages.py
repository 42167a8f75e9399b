"""``npm test`` of ``@supervm/js`` and ``@supervm/hardhat-plugin``: their node:test suites, each
against a real ``supervm node --dev`` it starts (and, for the plugin, Hardhat 2 itself)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

Npm = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.slow

_SUMMARY = re.compile(r"^# (pass|fail) (\d+)$", re.MULTILINE)


def _counts(output: str) -> dict[str, int]:
    return {name: int(count) for name, count in _SUMMARY.findall(output)}


@pytest.mark.usefixtures("built")
def test_supervm_js(npm: Npm) -> None:
    result = npm("test", "--workspace", "sdk/js")
    counts = _counts(result.stdout)
    assert counts.get("fail") == 0, result.stdout[-4000:]
    # The unit tests and the dev-node tests both ran (a filter that ran nothing would pass too).
    assert counts.get("pass", 0) >= 20, result.stdout[-4000:]
    assert "ContractRevertError" in result.stdout or "reverts are decoded" in result.stdout


@pytest.mark.usefixtures("built")
def test_supervm_hardhat_plugin(npm: Npm) -> None:
    result = npm("test", "--workspace", "sdk/hardhat-plugin")
    counts = _counts(result.stdout)
    assert counts.get("fail") == 0, result.stdout[-4000:]
    assert counts.get("pass", 0) >= 7, result.stdout[-4000:]
