"""The ``solc`` compiler plugin: artifacts, the CLI, imports, errors and the EVM version."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import supervm_compiler_solidity
from click.testing import CliRunner
from supervm import Kernel
from supervm.builtins import scheduler_serial
from supervm.cli.main import KernelState, cli
from supervm.errors import CompileError, ToolchainError
from supervm.tooling.artifacts import artifact_schema, artifact_to_json, load_artifact
from supervm.tooling.compilers import Artifact, CompileSettings, keccak_hex
from supervm_compiler_solidity import SolidityCompiler
from supervm_compiler_solidity.compiler import describe_error, project_root, solc_settings

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"
EXAMPLE = REPO / "examples" / "contracts" / "erc20-sol"
EXAMPLE_SOURCE = EXAMPLE / "contracts" / "ERC20Token.sol"
OZ_ERC20 = NODE_MODULES / "@openzeppelin" / "contracts" / "build" / "contracts" / "ERC20.json"
HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n"


def _kernel() -> Kernel:
    return Kernel.from_plugins(
        discover=False,
        env={},
        extra=[
            ("scheduler_serial", scheduler_serial),
            ("compiler_solidity", supervm_compiler_solidity),
        ],
    )


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)
    return path


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["type"], item.get("name", "")


# -- without solc ------------------------------------------------------------------------------


def test_plugin_registers_solc_for_sol_files() -> None:
    registry = _kernel().compilers()
    assert registry.names() == ["solc"]
    entry = registry.for_path(Path("contracts/Token.sol"))
    assert entry is not None
    assert entry.plugin == "compiler_solidity"
    assert isinstance(entry.value, SolidityCompiler)
    assert entry.value.language == "sol"
    assert registry.for_path(Path("token.ts")) is None


def test_installed_plugin_is_discovered() -> None:
    with Kernel.from_plugins(env={}) as kernel:
        assert "solc" in kernel.compilers()


def test_default_settings_target_cancun() -> None:
    assert solc_settings(CompileSettings()) == {
        "evmVersion": "cancun",
        "optimizer": {"enabled": False, "runs": 200},
    }
    options = {"evm_version": "shanghai", "optimizer_runs": "1000", "via_ir": "true"}
    assert solc_settings(CompileSettings(optimize=True, options=options)) == {
        "evmVersion": "shanghai",
        "optimizer": {"enabled": True, "runs": 1000},
        "viaIR": True,
    }


@pytest.mark.parametrize("version", ["prague", "osaka"])
def test_evm_versions_newer_than_cancun_are_refused(tmp_path: Path, version: str) -> None:
    source = _write(tmp_path / "A.sol", "contract A {}\n")
    settings = CompileSettings(node_modules=NODE_MODULES, options={"evm_version": version})
    with pytest.raises(CompileError, match=r"EVM backend .* supports cancun at most"):
        SolidityCompiler().compile([source], settings)


def test_unknown_evm_version_and_bad_runs_are_refused() -> None:
    with pytest.raises(CompileError, match=r"unknown EVM version 'latest' \(known: homestead"):
        solc_settings(CompileSettings(options={"evm_version": "latest"}))
    with pytest.raises(CompileError, match="optimizer_runs must be a positive integer"):
        solc_settings(CompileSettings(options={"optimizer_runs": "many"}))


def test_missing_node_is_a_toolchain_error_with_the_fix(tmp_path: Path) -> None:
    source = _write(tmp_path / "A.sol", "contract A {}\n")
    compiler = SolidityCompiler(node=str(tmp_path / "no-node"))
    with pytest.raises(ToolchainError, match=r"Node\.js is needed.*make install") as info:
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert "\n" not in str(info.value)


def test_missing_solc_is_a_toolchain_error_with_the_fix(tmp_path: Path) -> None:
    source = _write(tmp_path / "A.sol", "contract A {}\n")
    empty = tmp_path / "node_modules"
    empty.mkdir()
    with pytest.raises(ToolchainError, match=r"solc-js .* not found .*run `make install`") as info:
        SolidityCompiler().compile([source], CompileSettings(node_modules=empty))
    assert "\n" not in str(info.value)


def test_project_root_is_the_nearest_marked_directory(tmp_path: Path) -> None:
    a = _write(tmp_path / "proj" / "contracts" / "A.sol", "")
    b = _write(tmp_path / "proj" / "contracts" / "sub" / "B.sol", "")
    assert project_root([a, b], {}) == tmp_path / "proj" / "contracts"
    (tmp_path / "proj" / "package.json").write_text("{}")
    assert project_root([a, b], {}) == tmp_path / "proj"
    assert project_root([b], {"base_path": str(tmp_path)}) == tmp_path
    with pytest.raises(CompileError, match="does not contain every source"):
        project_root([a], {"base_path": str(tmp_path / "proj" / "contracts" / "sub")})


def test_describe_error_is_one_line_with_file_line_and_column() -> None:
    error = {
        "type": "TypeError",
        "severity": "error",
        "message": "Undeclared\nidentifier.",
        "sourceLocation": {"file": "contracts/A.sol", "start": 1, "end": 2},
        "formattedMessage": "TypeError: Undeclared identifier.\n --> contracts/A.sol:7:9:\n  |\n",
    }
    assert describe_error(error, {"contracts/A.sol": "src/A.sol"}) == (
        "src/A.sol:7:9: TypeError: Undeclared identifier."
    )
    assert describe_error({"type": "JSONError", "message": "bad"}, {}) == "JSONError: bad"


def test_scaffold_writes_a_project(tmp_path: Path) -> None:
    files = SolidityCompiler().scaffold("my-counter", tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files) == [
        "README.md",
        "contracts/MyCounter.sol",
        "tests/test_my_counter.py",
    ]
    assert "contract MyCounter {" in (tmp_path / "contracts" / "MyCounter.sol").read_text()
    assert "$" not in (tmp_path / "tests" / "test_my_counter.py").read_text()
    assert "supervm compile contracts" in (tmp_path / "README.md").read_text()


# -- with solc ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_example_compiles_to_one_schema_valid_artifact(erc20: Artifact) -> None:
    assert erc20.name == "ERC20Token"
    assert erc20.kind == "evm"
    assert erc20.code_hash == keccak_hex(erc20.bytecode)
    assert erc20.deployed_bytecode and erc20.deployed_bytecode in erc20.bytecode
    assert erc20.source_hashes == {str(EXAMPLE_SOURCE): keccak_hex(EXAMPLE_SOURCE.read_bytes())}
    solc_version = json.loads((NODE_MODULES / "solc" / "package.json").read_text())["version"]
    assert erc20.compiler.name == "solc"
    assert erc20.compiler.version.startswith(solc_version + "+commit.")
    assert erc20.settings == {"evmVersion": "cancun", "optimizer": {"enabled": False, "runs": 200}}
    jsonschema.validate(artifact_to_json(erc20), artifact_schema())


@pytest.mark.slow
def test_example_abi_is_openzeppelins_erc20_abi(erc20: Artifact) -> None:
    oz = json.loads(OZ_ERC20.read_text())["abi"]
    ours = {_key(i): i for i in erc20.abi if i["type"] != "constructor"}
    assert ours == {_key(i): i for i in oz if i["type"] != "constructor"}
    names = {name for kind, name in ours if kind == "function"}
    assert names == {"name", "symbol", "decimals", "totalSupply", "balanceOf", "transfer",
                     "allowance", "approve", "transferFrom"}  # fmt: skip
    assert {name for kind, name in ours if kind == "event"} == {"Transfer", "Approval"}
    (ctor,) = [i for i in erc20.abi if i["type"] == "constructor"]
    assert [(p["name"], p["type"]) for p in ctor["inputs"]] == [
        ("name_", "string"),
        ("symbol_", "string"),
        ("initialSupply", "uint256"),
    ]


@pytest.mark.slow
def test_code_hash_does_not_depend_on_the_working_directory(
    erc20: Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = Path("../" * len(tmp_path.parts)) / EXAMPLE_SOURCE.relative_to("/")
    (again,) = SolidityCompiler().compile([relative], CompileSettings(node_modules=NODE_MODULES))
    assert again.code_hash == erc20.code_hash
    assert again.source_hashes == {str(relative): erc20.source_hashes[str(EXAMPLE_SOURCE)]}


@pytest.mark.slow
def test_cli_compiles_the_example(tmp_path: Path, erc20: Artifact) -> None:
    out = tmp_path / "build"
    result = CliRunner().invoke(
        cli,
        [
            "compile",
            str(EXAMPLE),
            "--out",
            str(out),
            "--optimize",
            "--node-modules",
            str(NODE_MODULES),
        ],
        obj=KernelState((), False, _kernel()),
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out / 'ERC20Token.json'}\n"
    data = json.loads((out / "ERC20Token.json").read_text())
    jsonschema.validate(data, artifact_schema())
    assert data["settings"] == {"evmVersion": "cancun", "optimizer": {"enabled": True, "runs": 200}}
    optimized = load_artifact(out / "ERC20Token.json")
    assert optimized.abi == erc20.abi
    assert len(optimized.bytecode) < len(erc20.bytecode)


@pytest.mark.slow
def test_imports_relative_project_and_npm(tmp_path: Path, compiler: SolidityCompiler) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    _write(
        project / "lib" / "Math.sol",
        "library Math { function twice(uint x) internal pure returns (uint) { return 2 * x; } }\n",
    )
    _write(
        project / "contracts" / "shared" / "Base.sol",
        'import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";\n'
        "abstract contract Base is Ownable { constructor() Ownable(msg.sender) {} }\n",
    )
    source = _write(
        project / "contracts" / "Main.sol",
        'import {Math} from "../lib/Math.sol";\n'
        'import {Base} from "./shared/Base.sol";\n'
        'import "contracts/shared/Base.sol";\n'
        "interface IMain { function f(uint x) external view returns (uint); }\n"
        "contract Main is Base, IMain {\n"
        "    function f(uint x) external pure returns (uint) { return Math.twice(x); }\n"
        "}\n",
    )
    artifacts = compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert [a.name for a in artifacts] == ["Main"]  # not IMain, Base, Math or Ownable
    names = {i.get("name") for i in artifacts[0].abi}
    assert {"f", "owner", "transferOwnership", "OwnableUnauthorizedAccount"} <= names
    assert list(artifacts[0].source_hashes) == [str(source)]


@pytest.mark.slow
def test_every_contract_of_the_given_sources_gets_an_artifact(
    tmp_path: Path, compiler: SolidityCompiler
) -> None:
    a = _write(tmp_path / "A.sol", 'import "./B.sol";\ncontract A1 is B {}\ncontract A2 {}\n')
    b = _write(tmp_path / "B.sol", "contract B { uint public x; }\nabstract contract C {}\n")
    artifacts = compiler.compile([a, b, a], CompileSettings(node_modules=NODE_MODULES))
    assert [x.name for x in artifacts] == ["A1", "A2", "B"]
    by_name = {x.name: x for x in artifacts}
    assert set(by_name["A1"].source_hashes) == {str(a), str(b)}
    assert set(by_name["B"].source_hashes) == {str(b)}


@pytest.mark.slow
def test_syntax_error_shows_file_and_line(tmp_path: Path, compiler: SolidityCompiler) -> None:
    source = _write(tmp_path / "Bad.sol", "contract Bad {\n    uint x = 1\n}\n")
    with pytest.raises(CompileError) as info:
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert str(info.value) == f"{source}:5:1: ParserError: Expected ';' but got '}}'"


@pytest.mark.slow
def test_each_error_is_one_line(tmp_path: Path, compiler: SolidityCompiler) -> None:
    source = _write(
        tmp_path / "Bad.sol",
        "contract Bad {\n"
        "    function f() external pure returns (uint) { return qqq; }\n"
        "    function g() external pure returns (uint) { return zzz; }\n"
        "}\n",
    )
    with pytest.raises(CompileError) as info:
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert str(info.value).splitlines() == [
        f"{source}:4:56: DeclarationError: Undeclared identifier.",
        f"{source}:5:56: DeclarationError: Undeclared identifier.",
    ]


@pytest.mark.slow
def test_missing_import_is_a_clear_error(tmp_path: Path, compiler: SolidityCompiler) -> None:
    source = _write(
        tmp_path / "A.sol", 'import "@openzeppelin/contracts/Nope.sol";\ncontract A {}\n'
    )
    with pytest.raises(CompileError) as info:
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    message = str(info.value)
    assert message.startswith(
        f'{source}:3:1: ParserError: Source "@openzeppelin/contracts/Nope.sol" not found: '
        f"not found in {tmp_path / '@openzeppelin/contracts/Nope.sol'}"
    )
    assert str(NODE_MODULES / "@openzeppelin/contracts/Nope.sol") in message
    assert "\n" not in message


@pytest.mark.slow
def test_errors_in_imported_files_name_the_file(tmp_path: Path, compiler: SolidityCompiler) -> None:
    _write(tmp_path / "lib" / "L.sol", "contract L { function f() public { undefinedThing(); } }\n")
    source = _write(tmp_path / "A.sol", 'import "./lib/L.sol";\ncontract A {}\n')
    with pytest.raises(CompileError, match=r"L\.sol:3:\d+: DeclarationError: Undeclared") as info:
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert str(tmp_path / "lib" / "L.sol") in str(info.value)


@pytest.mark.slow
def test_warnings_are_logged_not_raised(
    tmp_path: Path, compiler: SolidityCompiler, caplog: pytest.LogCaptureFixture
) -> None:
    source = _write(tmp_path / "W.sol", "contract W { function f() external { uint x; } }\n")
    logger = logging.getLogger("supervm.solc")  # the CLI stops "supervm" logs propagating
    logger.addHandler(caplog.handler)
    try:
        (artifact,) = compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    finally:
        logger.removeHandler(caplog.handler)
    assert artifact.name == "W"
    assert f"{source}:3:38: Warning: Unused local variable." in caplog.messages


@pytest.mark.slow
def test_duplicate_contract_names_are_refused(tmp_path: Path, compiler: SolidityCompiler) -> None:
    a = _write(tmp_path / "a" / "T.sol", "contract T {}\n")
    b = _write(tmp_path / "b" / "T.sol", "contract T { uint x; }\n")
    with pytest.raises(
        CompileError, match=r"contract T is defined in both .*a/T\.sol and .*b/T\.sol"
    ):
        compiler.compile([a, b], CompileSettings(node_modules=NODE_MODULES))


@pytest.mark.slow
def test_external_libraries_needing_links_are_refused(
    tmp_path: Path, compiler: SolidityCompiler
) -> None:
    source = _write(
        tmp_path / "U.sol",
        "library Ext { function f() public pure returns (uint) { return 1; } }\n"
        "contract U { function g() external pure returns (uint) { return Ext.f(); } }\n",
    )
    with pytest.raises(CompileError, match=r"contract U calls public functions of library Ext"):
        compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))


@pytest.mark.slow
def test_cancun_code_runs_on_the_evm_backend(
    tmp_path: Path, compiler: SolidityCompiler, deploy: Any
) -> None:
    """Transient storage (TSTORE/TLOAD) and MCOPY are Cancun opcodes; revm 8 runs them."""
    source = _write(
        tmp_path / "Cancun.sol",
        "contract Cancun {\n"
        "    uint transient depth;\n"
        "    function enter() external returns (uint) { depth += 1; return depth; }\n"
        "    function copy(bytes memory b) external pure returns (bytes memory) {\n"
        "        bytes memory c = b; return abi.encodePacked(c, c);\n"
        "    }\n"
        "}\n",
    )
    (artifact,) = compiler.compile([source], CompileSettings(node_modules=NODE_MODULES))
    assert bytes([0x5C]) in artifact.deployed_bytecode  # TLOAD
    contract = deploy(artifact)
    assert contract.call("enter") == 1
    # pyrevm's message_call does not end a transaction: transient storage lives on until reset
    assert contract.call("enter") == 2
    contract.evm.reset_transient_storage()
    assert contract.call("enter") == 1
    assert contract.evm.storage(contract.address, 0) == 0  # never in persistent storage
    assert contract.call("copy", b"ab") == "0x" + b"abab".hex()  # MCOPY


@pytest.mark.slow
def test_older_evm_version_is_used_and_recorded(tmp_path: Path, compiler: SolidityCompiler) -> None:
    source = _write(
        tmp_path / "A.sol",
        "contract A { function f() external pure returns (uint) { return 0; } }\n",
    )
    settings = CompileSettings(node_modules=NODE_MODULES, options={"evm_version": "paris"})
    (artifact,) = compiler.compile([source], settings)
    assert artifact.settings["evmVersion"] == "paris"
    assert artifact.deployed_bytecode is not None
    assert bytes([0x5F]) not in artifact.deployed_bytecode[:16]  # no PUSH0 before Shanghai
