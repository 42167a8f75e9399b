"""``package_dir``: a package's data directory as a real path, installed or zipped."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervm.tooling.package_data import package_dir


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] in ("dpkg_plain", "dpkg_zipped")]:
            del sys.modules[name]


def test_an_installed_package_is_used_in_place(on_path: Path) -> None:
    data = on_path / "dpkg_plain" / "contracts" / "token"
    (data / "src").mkdir(parents=True)
    (on_path / "dpkg_plain" / "__init__.py").write_text("")
    (data / "src" / "index.ts").write_text("export {}")
    with package_dir("dpkg_plain", "contracts", "token") as found:
        assert found == data
        assert (found / "src" / "index.ts").read_text() == "export {}"


def test_a_zipped_package_is_copied_out_and_cleaned_up(on_path: Path) -> None:
    archive = on_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("dpkg_zipped/__init__.py", "")
        z.writestr("dpkg_zipped/contracts/token/package.json", "{}")
        z.writestr("dpkg_zipped/contracts/token/src/index.ts", "export {}")
    sys.path.insert(0, str(archive))
    try:
        with package_dir("dpkg_zipped", "contracts", "token") as found:
            assert found.is_dir() and found.name == "token"
            assert (found / "package.json").read_text() == "{}"
            assert (found / "src" / "index.ts").read_text() == "export {}"
        assert not found.exists()
    finally:
        sys.path.remove(str(archive))


def test_a_missing_directory_is_named(on_path: Path) -> None:
    (on_path / "dpkg_plain").mkdir()
    (on_path / "dpkg_plain" / "__init__.py").write_text("")
    with (
        pytest.raises(FileNotFoundError, match="dpkg_plain has no directory contracts/nope"),
        package_dir("dpkg_plain", "contracts", "nope"),
    ):
        pass
