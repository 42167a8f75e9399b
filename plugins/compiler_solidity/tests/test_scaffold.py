"""``supervm new NAME --lang sol``: the project builds with ``supervm compile`` and its own
tests pass (they compile with SuperVM and run the contract on pyrevm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from supervm.tooling.artifacts import artifact_schema
from supervm_compiler_solidity import SolidityCompiler
from supervm_compiler_solidity.scaffold import contract_name, module_name

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
NODE_MODULES = REPO / "node_modules"


@pytest.mark.parametrize(
    ("project", "contract", "module"),
    [
        ("counter", "Counter", "counter"),
        ("my-token", "MyToken", "my_token"),
        ("my_vault_2", "MyVault2", "my_vault2"),
        ("42", "C42", "c42"),
    ],
)
def test_names(project: str, contract: str, module: str) -> None:
    assert contract_name(project) == contract
    assert module_name(contract) == module


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_new_project_builds_and_its_tests_pass(tmp_path: Path) -> None:
    env = {**os.environ, "SUPERVM_NODE_MODULES": str(NODE_MODULES)}
    env.pop("SUPERVM_PLUGINS", None)
    out = _run(str(BIN / "supervm"), "new", "my-counter", "--lang", "sol", cwd=tmp_path, env=env)
    project = tmp_path / "my-counter"
    assert out.splitlines() == [
        "template: counter (the default; --template counter|erc20)",
        *(
            f"created {Path('my-counter') / name}"
            for name in ("contracts/MyCounter.sol", "tests/test_my_counter.py", "README.md")
        ),
    ]

    # Outside the checkout the toolchain is still found, through the plugin's own location.
    proc = subprocess.run(
        [str(BIN / "supervm"), "compile", "contracts"],
        cwd=project, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote build/MyCounter.json"

    # A --node-modules without solc-js: a one-line error with the fix.
    empty = tmp_path / "empty_node_modules"
    empty.mkdir()
    proc = subprocess.run(
        [str(BIN / "supervm"), "compile", "contracts", "--node-modules", str(empty)],
        cwd=project, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: solc-js (npm package solc) not found")
    assert proc.stderr.rstrip().endswith(
        "run `make install` in the SuperVM checkout, or pass --node-modules DIR"
    )
    assert proc.stderr.count("\n") == 1

    out = _run(
        str(BIN / "supervm"), "compile", "contracts", "--node-modules", str(NODE_MODULES),
        cwd=project, env=env,
    )  # fmt: skip
    assert out == "wrote build/MyCounter.json\n"
    artifact = json.loads((project / "build" / "MyCounter.json").read_text())
    jsonschema.validate(artifact, artifact_schema())
    assert artifact["kind"] == "evm"

    config = str(REPO / "pyproject.toml")
    _run(str(BIN / "ruff"), "check", "--config", config, ".", cwd=project)
    _run(str(BIN / "ruff"), "format", "--check", "--config", config, ".", cwd=project)

    out = _run(str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests", cwd=project, env=env)
    assert "3 passed" in out


def test_erc20_template_files(tmp_path: Path) -> None:
    written = SolidityCompiler().scaffold("gold-coin", tmp_path, "erc20")
    assert [str(p.relative_to(tmp_path)) for p in written] == [
        "contracts/GoldCoin.sol", "tests/test_gold_coin.py", "README.md",
    ]  # fmt: skip
    source = (tmp_path / "contracts" / "GoldCoin.sol").read_text()
    assert "contract GoldCoin is ERC20 {" in source
    assert '"@openzeppelin/contracts/token/ERC20/ERC20.sol"' in source
    assert "fixed-supply ERC-20" in (tmp_path / "README.md").read_text()
    with pytest.raises(
        ValueError, match=r"unknown template 'nft' for Solidity \(known: counter, erc20\)"
    ):
        SolidityCompiler().scaffold("x", tmp_path / "x", "nft")


@pytest.mark.slow
def test_new_erc20_project_builds_and_its_tests_pass(tmp_path: Path) -> None:
    env = {**os.environ, "SUPERVM_NODE_MODULES": str(NODE_MODULES)}
    env.pop("SUPERVM_PLUGINS", None)
    out = _run(str(BIN / "supervm"), "new", "my-token", "--lang", "sol", cwd=tmp_path, env=env)
    assert out.splitlines() == [
        "template: erc20 (inferred from the name; --template counter|erc20)",
        *(
            f"created {Path('my-token') / name}"
            for name in ("contracts/MyToken.sol", "tests/test_my_token.py", "README.md")
        ),
    ]
    project = tmp_path / "my-token"
    proc = subprocess.run(
        [str(BIN / "supervm"), "compile", ".", "--node-modules", str(NODE_MODULES)],
        cwd=project, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("wrote build/MyToken.json\n", "")
    artifact = json.loads((project / "build" / "MyToken.json").read_text())
    jsonschema.validate(artifact, artifact_schema())
    assert {"transfer", "approve", "Transfer", "ERC20InsufficientBalance"} <= {
        item.get("name") for item in artifact["abi"]
    }

    config = str(REPO / "pyproject.toml")
    _run(str(BIN / "ruff"), "check", "--config", config, ".", cwd=project)
    _run(str(BIN / "ruff"), "format", "--check", "--config", config, ".", cwd=project)

    out = _run(str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests", cwd=project, env=env)
    assert "5 passed" in out

    # An unknown template is one line naming the known ones, and creates nothing.
    proc = subprocess.run(
        [str(BIN / "supervm"), "new", "my-nft", "--lang", "sol", "--template", "nft"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr == "Error: unknown template 'nft' for --lang sol (known: counter, erc20)\n"
    assert not (tmp_path / "my-nft").exists()
