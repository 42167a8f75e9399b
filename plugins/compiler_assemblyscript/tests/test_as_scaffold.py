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


@pytest.mark.parametrize(
    ("project", "options", "line", "contract"),
    [
        (
            "my-counter", [],
            "template: counter (the default; --template counter|erc20|hardhat)", "MyCounter",
        ),
        (
            "my-token", [],
            "template: erc20 (inferred from the name; --template counter|erc20|hardhat)", "MyToken",
        ),
        (
            "gold", ["--template", "erc20"],
            "template: erc20 (chosen with --template; known: counter|erc20|hardhat)", "Gold",
        ),
    ],
)  # fmt: skip
def test_new_project_compiles(
    tmp_path: Path, project: str, options: list[str], line: str, contract: str
) -> None:
    kernel = _kernel()
    result = CliRunner().invoke(
        cli, ["new", project, "--lang", "as", *options, "--dir", str(tmp_path)],
        obj=KernelState((), False, kernel),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == line
    dest = tmp_path / project
    module = module_name(contract)
    created = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert created == [
        ".gitignore", "README.md", "assembly/index.ts", "assembly/tsconfig.json",
        "package.json", f"tests/test_{module}.py",
    ]  # fmt: skip
    assert result.stdout.splitlines()[1:] == [f"created {dest / name}" for name in (
        "package.json", "assembly/index.ts", "assembly/tsconfig.json", f"tests/test_{module}.py",
        "README.md", ".gitignore",
    )]  # fmt: skip
    package = json.loads((dest / "package.json").read_text())
    assert package["name"] == project
    assert "@supervm/sdk" in package["dependencies"]
    out = tmp_path / "build"
    result = CliRunner().invoke(
        cli,
        ["compile", str(dest), "--out", str(out), "--node-modules", str(NODE_MODULES)],
        obj=KernelState((), False, kernel),
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the project's tests, README and configs are not "skipped"
    assert [p.name for p in out.iterdir()] == [f"{contract}.json"]
    abi = json.loads((out / f"{contract}.json").read_text())["abi"]
    names = {item.get("name") for item in abi}
    if line.split()[1] == "erc20":
        assert {"transfer", "approve", "transferFrom", "Transfer", "Approval"} <= names
    else:
        assert {"increase", "reset", "Increased"} <= names
    # A second `new` into the same directory refuses.
    again = CliRunner().invoke(
        cli, ["new", project, "--lang", "as", "--dir", str(tmp_path)],
        obj=KernelState((), False, kernel),
    )  # fmt: skip
    assert again.exit_code != 0 and "not empty" in again.output


def test_unknown_template_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["new", "my-nft", "--lang", "as", "--template", "nft", "--dir", str(tmp_path)],
        obj=KernelState((), False, _kernel()),
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        "Error: unknown template 'nft' for --lang as (known: counter, erc20, hardhat)\n"
    )
    assert not (tmp_path / "my-nft").exists()
    with pytest.raises(ValueError, match="unknown template 'nft'"):
        supervm_compiler_assemblyscript.AssemblyScriptCompiler().scaffold("x", tmp_path, "nft")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "passed"), [(None, "3 passed"), ("counter", "3 passed"), ("erc20", "5 passed")]
)
def test_new_projects_tests_pass(tmp_path: Path, template: str | None, passed: str) -> None:
    """Run the template's own pytest file in a subprocess, as a user would."""
    compiler = supervm_compiler_assemblyscript.AssemblyScriptCompiler()
    # The Python API defaults to the counter, whatever the name (only `supervm new` infers).
    if template is None:
        compiler.scaffold("token-box", tmp_path)
    else:
        compiler.scaffold("token-box", tmp_path, template)
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
    assert passed in proc.stdout
    config = str(REPO / "pyproject.toml")
    for check in (["check"], ["format", "--check"]):
        lint = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), *check, "--config", config, "tests"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr
