"""``supervm new NAME --lang as``: the AssemblyScript project template builds and its tests pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import supervm_compiler_assemblyscript
import supervm_storage_memory
import supervm_wasm_wasmtime
from click.testing import CliRunner
from supervm import Kernel
from supervm.builtins import scheduler_serial
from supervm.cli.main import KernelState, cli
from supervm_compiler_assemblyscript.scaffold import contract_name, module_name

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"


def _kernel() -> Kernel:
    return Kernel.from_plugins(
        discover=False,
        env={},
        extra=[
            ("scheduler_serial", scheduler_serial),
            ("storage_memory", supervm_storage_memory),
            ("wasm_wasmtime", supervm_wasm_wasmtime),
            ("compiler_assemblyscript", supervm_compiler_assemblyscript),
        ],
    )


def test_names() -> None:
    assert contract_name("my-counter") == "MyCounter"
    assert contract_name("9lives") == "C9lives"
    assert contract_name("---") == "Contract"
    assert module_name("MyCounter") == "my_counter"


def test_new_project_compiles(tmp_path: Path) -> None:
    kernel = _kernel()
    result = CliRunner().invoke(
        cli, ["new", "my-counter", "--lang", "as", "--dir", str(tmp_path)],
        obj=KernelState((), False, kernel),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    project = tmp_path / "my-counter"
    created = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert created == [
        ".gitignore", "README.md", "assembly/index.ts", "assembly/tsconfig.json",
        "package.json", "tests/test_my_counter.py",
    ]  # fmt: skip
    package = json.loads((project / "package.json").read_text())
    assert package["name"] == "my-counter"
    assert "@supervm/sdk" in package["dependencies"]
    out = tmp_path / "build"
    result = CliRunner().invoke(
        cli,
        ["compile", str(project), "--out", str(out), "--node-modules", str(NODE_MODULES)],
        obj=KernelState((), False, kernel),
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["MyCounter.json"]
    # A second `new` into the same directory refuses.
    again = CliRunner().invoke(
        cli, ["new", "my-counter", "--lang", "as", "--dir", str(tmp_path)],
        obj=KernelState((), False, kernel),
    )  # fmt: skip
    assert again.exit_code != 0 and "not empty" in again.output


@pytest.mark.slow
def test_new_projects_tests_pass(tmp_path: Path) -> None:
    """Run the template's own pytest file in a subprocess, as a user would."""
    supervm_compiler_assemblyscript.AssemblyScriptCompiler().scaffold("token-box", tmp_path)
    env = {
        **os.environ,
        "SUPERVM_NODE_MODULES": str(NODE_MODULES),
        "SUPERVM_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "tests")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
