"""``bench parallel`` compiles its token from package data, so it runs from an installed wheel.

The package's ``contracts/erc20-as`` copies ``examples/contracts/erc20-as`` (the user-facing
copy): they must not drift apart.
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
import supervm_scheduler_parallel

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "contracts" / "erc20-as"
PACKAGE = Path(supervm_scheduler_parallel.__file__).parent
SHIPPED = PACKAGE / "contracts" / "erc20-as"
#: Files of the example that are documentation, not sources: not shipped.
DOCS = {"README.md"}


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_shipped_token_equals_the_example() -> None:
    wanted = {f for f in _files(EXAMPLE) if Path(f).name not in DOCS}
    assert _files(SHIPPED) == wanted
    for rel in wanted:
        assert (SHIPPED / rel).read_bytes() == (EXAMPLE / rel).read_bytes(), (
            f"{SHIPPED / rel} differs from {EXAMPLE / rel}: copy the example over"
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
import json, supervm_scheduler_parallel
from supervm_scheduler_parallel.bench import token_source
with token_source() as source:
    print(json.dumps({
        "package": supervm_scheduler_parallel.__file__,
        "source": str(source),
        "found": (source / "assembly" / "index.ts").is_file(),
    }))
"""


def test_token_is_found_through_the_package_not_the_checkout(tmp_path: Path) -> None:
    # The package alone, away from the repository: nothing above it holds examples/.
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    out = _python(site, FIND, cwd=tmp_path)
    assert Path(out["package"]).is_relative_to(site)
    assert Path(out["source"]).is_relative_to(site)
    assert out["found"]


COMPILE = """
import json
from supervm import Kernel
from supervm_scheduler_parallel.bench import build_token
with Kernel.from_plugins() as kernel:
    code = build_token(kernel)
print(json.dumps({"magic": code[:4].hex()}))
"""


@pytest.mark.slow
def test_the_wheel_ships_the_token_and_the_bench_compiles_it(tmp_path: Path) -> None:
    uv = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build wheels; run `make install` first")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    cmd = [found, "build", "--quiet", "--wheel", "--package", "supervm-scheduler-parallel"]
    subprocess.run(
        [*cmd, "--out-dir", str(tmp_path / "dist")], cwd=ROOT, env=env, check=True, timeout=600
    )
    (wheel,) = (tmp_path / "dist").glob("supervm_scheduler_parallel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("assembly/index.ts", "package.json"):
        assert f"supervm_scheduler_parallel/contracts/erc20-as/{rel}" in names

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
    assert out["magic"] == "0061736d"  # \0asm: a WASM module
