"""What a new user does with the command line: global options, persistent state, dev accounts.

Each test here failed before the defects of the "what a new user hits" issue were mended.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pytest
import wasmtime
from click.testing import CliRunner, Result
from supervm import Artifact, CompilerInfo, Kernel, hookimpl, save_artifact
from supervm.builtins import scheduler_serial
from supervm.chain.dev_accounts import dev_account
from supervm.cli.main import KernelState, cli, main
from supervm.plugins.registry import CommandRegistry
from supervm.state.addresses import create_address
from supervm.tooling.compilers import keccak_hex

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "contracts" / "storage-wat"
#: Hardhat's and anvil's first two accounts, as every Ethereum developer knows them.
HARDHAT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HARDHAT_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
WHO = """
(module
  (import "supervm" "caller" (func $caller (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "who") (call $caller (i32.const 0)) (call $ret (i32.const 0) (i32.const 20))))
"""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def supervm(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The console entry point as a user meets it: errors become one line and an exit code."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def demo(name: str) -> Path:
    return Path(str(resources.files("supervm_wasm_wasmtime").joinpath("demo", name)))


def json_line(text: str) -> dict[str, object]:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    data: dict[str, object] = json.loads(lines[0])
    return data


@pytest.fixture
def storage_artifact(tmp_path: Path) -> Path:
    """The WAT storage example as an artifact file (an ABI with a constructor)."""
    code = bytes(wasmtime.wat2wasm((EXAMPLE / "Storage.wat").read_text()))
    artifact = Artifact(
        name="Storage",
        kind="wasm",
        abi=tuple(json.loads((EXAMPLE / "Storage.abi.json").read_text())),
        bytecode=code,
        code_hash=keccak_hex(code),
        source_hashes={},
        compiler=CompilerInfo("wat2wasm", wasmtime.__name__),
        settings={},
    )
    return save_artifact(artifact, tmp_path / "build")


# -- 1. every command sees the global options ---------------------------------------------------


def test_unknown_plugin_fails_the_same_way_for_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = []
    for command in (["plugins"], ["wasm", "run", demo("add.wat"), "--call", "add", "2", "3"]):
        code, out, err = supervm(capsys, "--plugin", "doesnotexist", *command)
        assert code == 1 and out == "", err
        outputs.append(err)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 1 and "no plugin named 'doesnotexist'" in outputs[0]


def test_a_blocked_plugin_takes_its_commands_with_it() -> None:
    result = invoke("--plugin", "no:wasm_wasmtime", "wasm", "run", demo("add.wat"), "--call", "add")
    assert result.exit_code == 2
    assert "No such command 'wasm'" in result.stderr
    assert "wasm_wasmtime" in result.stderr  # names the plugin that would provide it


def test_a_blocked_storage_plugin_is_not_used(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = supervm(
        capsys, "--plugin", "no:storage_lmdb", "wasm", "run", demo("counter.wat"), "--call", "inc"
    )
    assert code == 1
    assert err == "error: no storage backend named 'lmdb' (available: memory)\n"


def test_trace_hooks_and_json_logs_reach_plugin_commands() -> None:
    traced = invoke("--trace-hooks", "wasm", "run", demo("add.wat"), "--call", "add", "2", "3")
    assert traced.exit_code == 0, traced.output
    assert "supervm_register_vm" in traced.stderr
    logged = invoke("--log-json", "-vv", "demo", "--once")
    assert logged.exit_code == 0, logged.output
    records = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    assert any(r["logger"] == "supervm.plugins" for r in records)


# -- 2. numbers out of range are refused --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gas", "99999999999999999999999999"], "0<=x<=18446744073709551615"),
        (["--gas", "18446744073709551617"], "0<=x<=18446744073709551615"),
        (["4294967295", "1"], "does not fit in i32: it must be between -2147483648 and 2147483647"),
    ],
)
def test_out_of_range_numbers_are_refused(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    extra = args if args[0].startswith("--") else []
    values = [] if extra else args
    code, out, err = supervm(
        capsys, "wasm", "run", demo("add.wat"), "--call", "add", *(values or ["1", "2"]), *extra
    )
    assert code in (1, 2)
    assert message in err
    assert out == ""


# -- 3. deploy, then call by address, across invocations ----------------------------------------


def test_deploy_then_call_by_address_persists(storage_artifact: Path) -> None:
    deployed = invoke("wasm", "deploy", storage_artifact, "42", "--json")
    assert deployed.exit_code == 0, deployed.output
    address = str(json_line(deployed.stdout)["address"])
    # The CREATE address of dev account 0 at nonce 0: Hardhat's first contract address.
    assert address == "0x" + create_address(dev_account(0).address, 0).hex()

    # No module: the code and the ABI recorded at deployment are used.
    got = invoke("wasm", "run", "--address", address, "--fn", "retrieve", "--json")
    assert got.exit_code == 0, got.output
    assert json_line(got.stdout)["decoded"] == {"values": [42], "events": [], "revert_reason": None}

    stored = invoke("wasm", "run", "--address", address, "--fn", "store", "--args", "7")
    assert stored.exit_code == 0, stored.output
    again = invoke("wasm", "run", storage_artifact, "--fn", "retrieve", "--address", address)
    assert "returns: 7" in again.stdout

    # A second deployment by the same account gets the next nonce's address.
    second = json_line(invoke("wasm", "deploy", storage_artifact, "1", "--json").stdout)
    assert second["address"] == "0x" + create_address(dev_account(0).address, 1).hex()


def test_other_code_cannot_run_in_a_contracts_storage(storage_artifact: Path) -> None:
    address = str(
        json_line(invoke("wasm", "deploy", storage_artifact, "5", "--json").stdout)["address"]
    )
    result = invoke("wasm", "run", demo("counter.wat"), "--call", "increment", "--address", address)
    assert result.exit_code == 2
    assert "holds another contract's code" in result.stderr
    untouched = invoke("wasm", "run", "--address", address, "--fn", "retrieve", "--json")
    assert json_line(untouched.stdout)["decoded"]["values"] == [5]  # type: ignore[index]


def test_calling_an_empty_address_without_a_module_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = supervm(capsys, "wasm", "run", "--address", "0x" + "ab" * 20, "--call", "inc")
    assert code == 1
    assert err == "error: no contract is deployed at 0x" + "ab" * 20 + "\n"


def test_memory_storage_is_a_throwaway_run(storage_artifact: Path) -> None:
    first = invoke("wasm", "run", demo("counter.wat"), "--call", "increment", "--storage", "memory")
    second = invoke(
        "wasm", "run", demo("counter.wat"), "--call", "increment", "--storage", "memory"
    )
    assert "value: 1" in first.stdout and "value: 1" in second.stdout
    persistent = [
        invoke("wasm", "run", demo("counter.wat"), "--call", "increment").stdout for _ in range(2)
    ]
    assert "value: 1" in persistent[0] and "value: 2" in persistent[1]


def test_data_dir_option_keeps_state_apart(tmp_path: Path) -> None:
    counter = demo("counter.wat")
    for expected in (1, 2):
        result = invoke("wasm", "run", counter, "--call", "increment", "--data-dir", tmp_path / "a")
        assert f"value: {expected}" in result.stdout
    other = invoke("wasm", "run", counter, "--call", "increment", "--data-dir", tmp_path / "b")
    assert "value: 1" in other.stdout


# -- 4. dev accounts ----------------------------------------------------------------------------


def test_dev_accounts_are_hardhats() -> None:
    result = invoke("accounts", "--json")
    assert result.exit_code == 0, result.output
    accounts = json.loads(result.stdout)
    assert len(accounts) == 10
    assert [a["address"] for a in accounts[:2]] == [HARDHAT_0, HARDHAT_1]
    assert accounts[0]["private_key"] == (
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    )
    text = invoke("accounts").stdout
    assert f"(1) {HARDHAT_1}" in text


@pytest.mark.parametrize(
    ("caller", "expected"),
    [([], HARDHAT_0), (["--caller", "1"], HARDHAT_1), (["--caller", "ab" * 20], "0x" + "ab" * 20)],
)
def test_caller_is_a_dev_account_by_default_or_by_number(
    tmp_path: Path, caller: Sequence[str], expected: str
) -> None:
    module = tmp_path / "who.wat"
    module.write_text(WHO)
    result = invoke("wasm", "run", module, "--call", "who", "--json", *caller)
    assert result.exit_code == 0, result.output
    assert json_line(result.stdout)["return_data"] == expected.lower()


# -- 6. the plugins table -----------------------------------------------------------------------


class _Nothing:
    @hookimpl
    def supervm_register_commands(self, registry: CommandRegistry) -> None:
        del registry


def test_plugins_table_stays_aligned_with_a_long_name() -> None:
    long_name = "a_plugin_with_a_much_longer_name_than_twenty"
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), (long_name, _Nothing())],
    )
    result = CliRunner().invoke(cli, ["plugins"], obj=KernelState((), False, kernel))
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    columns = {row.index("<inline>") for row in rows}
    assert len(rows) == 2 and len(columns) == 1, result.stdout
