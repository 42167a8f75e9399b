"""The benchmark compiles its contracts from package data, so it runs from an installed wheel.

The package's ``contracts/`` copies ``examples/contracts`` (the user-facing copy): they must
not drift apart.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import supervm_bench_erc20

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "contracts"
PACKAGE = Path(supervm_bench_erc20.__file__).parent
SHIPPED = PACKAGE / "contracts"
#: Files of the examples that are documentation, not sources: not shipped.
DOCS = {"README.md"}


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["erc20-as", "erc20-sol"])
def test_shipped_sources_equal_the_examples(name: str) -> None:
    shipped, example = SHIPPED / name, EXAMPLES / name
    wanted = {f for f in _files(example) if Path(f).name not in DOCS}
    assert _files(shipped) == wanted
    for rel in wanted:
        assert (shipped / rel).read_bytes() == (example / rel).read_bytes(), (
            f"{shipped / rel} differs from {example / rel}: copy the example over"
        )


def _python(site: Path, script: str, cwd: Path) -> dict[str, Any]:
    """Run ``script`` with ``site`` first on the path (ahead of the editable install)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


FIND = """
import json, supervm_bench_erc20
from supervm_bench_erc20.bench import contract_sources
with contract_sources() as (wasm, evm):
    print(json.dumps({
        "package": supervm_bench_erc20.__file__,
        "wasm": str(wasm), "evm": str(evm),
        "found": (wasm / "assembly" / "index.ts").is_file()
        and (evm / "contracts" / "ERC20Token.sol").is_file(),
    }))
"""


def test_sources_are_found_through_the_package_not_the_checkout(tmp_path: Path) -> None:
    # The package alone, away from the repository: nothing above it holds examples/.
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    out = _python(site, FIND, cwd=tmp_path)
    assert Path(out["package"]).is_relative_to(site)
    assert Path(out["wasm"]).is_relative_to(site) and Path(out["evm"]).is_relative_to(site)
    assert out["found"]


COMPILE = """
import json, tempfile
from pathlib import Path
from supervm import Kernel
from supervm_bench_erc20.bench import build_artifacts
with Kernel.from_plugins() as kernel, tempfile.TemporaryDirectory() as out:
    wasm, evm = build_artifacts(kernel, Path(out))
print(json.dumps({"sources": [*wasm.source_hashes, *evm.source_hashes],
                  "kinds": [wasm.kind, evm.kind]}))
"""


@pytest.mark.slow
def test_the_wheel_ships_the_sources_and_the_bench_compiles_them(tmp_path: Path) -> None:
    uv = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build wheels; run `make install` first")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    cmd = [found, "build", "--quiet", "--wheel", "--package", "supervm-bench-erc20"]
    subprocess.run(
        [*cmd, "--out-dir", str(tmp_path / "dist")], cwd=ROOT, env=env, check=True, timeout=600
    )
    (wheel,) = (tmp_path / "dist").glob("supervm_bench_erc20-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("erc20-as/assembly/index.ts", "erc20-as/package.json",
                "erc20-sol/contracts/ERC20Token.sol"):  # fmt: skip
        assert f"supervm_bench_erc20/contracts/{rel}" in names

    # Installed as a wheel installs it (unpacked), read-only: compiling must not write there.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    for path in site.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        out = _python(site, COMPILE, cwd=tmp_path)
    finally:
        for path in site.rglob("*"):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert out["kinds"] == ["wasm", "evm"]
    assert all(Path(s).is_relative_to(site) for s in out["sources"]), out["sources"]
