"""Artifacts and ABI calls: deploy, transact, query, logs and revert reasons."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
import wasmtime
from click.testing import CliRunner
from supervm import (
    Artifact,
    CompilerInfo,
    Contract,
    ExecutionContext,
    Kernel,
    WorldState,
    create_address,
    save_artifact,
)
from supervm.cli.main import KernelState, cli, main
from supervm.tooling.abi import AbiError
from supervm.tooling.compilers import keccak_hex

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "contracts" / "storage-wat"
ALICE = bytes.fromhex("a1" * 20)


@pytest.fixture
def artifact() -> Artifact:
    code = bytes(wasmtime.wat2wasm((EXAMPLE / "Storage.wat").read_text()))
    return Artifact(
        name="Storage",
        kind="wasm",
        abi=tuple(json.loads((EXAMPLE / "Storage.abi.json").read_text())),
        bytecode=code,
        code_hash=keccak_hex(code),
        source_hashes={"Storage.wat": keccak_hex((EXAMPLE / "Storage.wat").read_bytes())},
        compiler=CompilerInfo("wat2wasm", wasmtime.__name__),
        settings={},
    )


@pytest.fixture
def kernel() -> Kernel:
    with Kernel.from_plugins() as k:
        yield k


def test_deploy_runs_the_constructor_at_the_create_address(
    kernel: Kernel, artifact: Artifact
) -> None:
    storage = kernel.open_storage("memory")
    contract = Contract(kernel, artifact, storage)
    deployment = contract.deploy(ExecutionContext(caller=ALICE), 42)
    assert deployment.ok, deployment.result.error
    # Ethereum's CREATE address of (deployer, nonce 0); the nonce moves on to 1.
    assert deployment.address == create_address(ALICE, 0)
    assert WorldState(storage).code(deployment.address) == artifact.bytecode
    assert contract.call("retrieve").value == 42
    second = Contract(kernel, artifact, storage).deploy(ExecutionContext(caller=ALICE), 7)
    assert second.address == create_address(ALICE, 1)


def test_known_create_address() -> None:
    # web3/ethers agree: deployer 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0 nonce 0.
    deployer = bytes.fromhex("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")
    assert create_address(deployer, 0).hex() == "cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"


def test_transact_query_and_logs(kernel: Kernel, artifact: Artifact) -> None:
    storage = kernel.open_storage("memory")
    contract = Contract(kernel, artifact, storage)
    assert contract.deploy(ExecutionContext(caller=ALICE), 1).ok
    outcome = contract.transact("store", 2**200, caller=ALICE)
    assert outcome.ok
    assert outcome.events == (("Stored", {"value": 2**200}),)
    assert contract.call("retrieve").value == 2**200
    # A query keeps nothing: storage holds exactly what transact committed.
    before = dict(storage.iterate())
    contract.call("retrieve")
    assert dict(storage.iterate()) == before


def test_failed_deploy_changes_nothing(kernel: Kernel, artifact: Artifact) -> None:
    storage = kernel.open_storage("memory")
    # Gas too small for the constructor's storage_set: nothing stored, nonce unchanged.
    deployment = Contract(kernel, artifact, storage).deploy(
        ExecutionContext(caller=ALICE, gas_limit=1000), 5
    )
    assert not deployment.ok
    assert list(storage.iterate()) == []


def test_revert_reason_is_decoded(kernel: Kernel, artifact: Artifact) -> None:
    storage = kernel.open_storage("memory")
    contract = Contract(kernel, artifact, storage)
    assert contract.deploy(ExecutionContext(caller=ALICE), 1).ok
    state = WorldState(storage)
    result = kernel.call(contract.address, state, ExecutionContext(), input=b"\xde\xad\xbe\xef")
    assert result.error is not None and result.error.kind.value == "revert"
    from supervm.tooling.abi import decode_revert

    assert decode_revert(result.return_data, artifact.abi) == "unknown selector"


def test_abi_errors_name_the_problem(kernel: Kernel, artifact: Artifact) -> None:
    contract = Contract(kernel, artifact, kernel.open_storage("memory"))
    assert contract.deploy(ExecutionContext(caller=ALICE), 1).ok
    with pytest.raises(AbiError, match=r"no function 'nope'.*retrieve\(\)"):
        contract.call("nope")
    with pytest.raises(AbiError, match=r"^store\(uint256\) takes 1 argument \(value\), got 0$"):
        contract.transact("store", caller=ALICE)
    with pytest.raises(
        AbiError,
        match=r"^argument 1 \(value: uint256\) must be a non-negative integer below 2\*\*256, "
        r"got 'twelve'$",
    ):
        contract.transact("store", "twelve", caller=ALICE)


def _cli(kernel: Kernel, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=KernelState((), False, kernel))
    return result.exit_code, result.output


def test_cli_deploy_then_run_abi_calls_persist(
    kernel: Kernel, artifact: Artifact, tmp_path: Path
) -> None:
    path = save_artifact(artifact, tmp_path / "build")
    data = str(tmp_path / "data")
    caller = "0x" + ALICE.hex()
    code, out = _cli(kernel, "wasm", "deploy", str(path), "5", "--caller", caller,
                     "--storage", "lmdb", "--data-dir", data, "--json")  # fmt: skip
    assert code == 0, out
    address = json.loads(out)["address"]
    assert address == "0x" + create_address(ALICE, 0).hex()

    lmdb = ["--storage", "lmdb", "--data-dir", data]
    code, out = _cli(kernel, "wasm", "run", str(path), "--fn", "store", "--args", "77",
                     "--address", address, *lmdb, "--json")  # fmt: skip
    assert code == 0, out
    stored = json.loads(out)
    assert stored["ok"] is True
    assert stored["decoded"]["events"] == [{"event": "Stored", "args": {"value": 77}}]

    code, out = _cli(kernel, "wasm", "run", str(path), "--fn", "retrieve", "--address", address,
                     "--storage", "lmdb", "--data-dir", data)  # fmt: skip
    assert code == 0, out
    assert "returns: 77" in out


def test_cli_abi_mistakes_are_one_line_errors(
    kernel: Kernel, artifact: Artifact, tmp_path: Path
) -> None:
    path = save_artifact(artifact, tmp_path)
    code, out = _cli(kernel, "wasm", "run", str(path), "--fn", "store", "--args", "1", "2")
    assert code != 0
    code, out = _cli(kernel, "wasm", "run", str(EXAMPLE / "Storage.wat"), "--fn", "store")
    assert code != 0 and "--fn needs an ABI" in out


def test_cli_deploy_with_a_bad_constructor_argument_names_it(
    artifact: Artifact, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An ERC20-shaped constructor; the arguments are rejected before any code runs.
    ctor = {
        "type": "constructor",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "name", "type": "string"},
            {"name": "symbol", "type": "string"},
            {"name": "initialSupply", "type": "uint256"},
        ],
    }
    path = save_artifact(attrs.evolve(artifact, abi=(ctor, *artifact.abi[1:])), tmp_path)
    caller = "0x" + ALICE.hex()

    def deploy(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(["wasm", "deploy", str(path), *args, "--caller", caller])
        assert exit_.value.code == 1
        out, err = capsys.readouterr()
        assert out == "" and "Traceback" not in err and "Encoder" not in err
        (line,) = err.strip().splitlines()
        return line

    assert deploy("Token", "TOK", "-5") == (
        "error: argument 3 (initialSupply: uint256) must be a non-negative integer below "
        "2**256, got '-5'"
    )
    assert deploy("Token", "TOK", str(2**256)) == (
        "error: argument 3 (initialSupply: uint256) must be a non-negative integer below "
        f"2**256, got '{2**256}'"
    )
    assert deploy("Token") == (
        "error: constructor(string,string,uint256) takes 3 arguments "
        "(name, symbol, initialSupply), got 1"
    )
