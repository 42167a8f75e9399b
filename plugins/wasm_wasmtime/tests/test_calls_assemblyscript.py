"""An AssemblyScript contract calling another: the example vault (examples/contracts/vault-as)
holding deposits of the example ERC20 (examples/contracts/erc20-as), both compiled here with
``supervm compile`` and run on the WASM backend through the SDK's call bindings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from supervm import ExecutionContext, Kernel, WorldState
from supervm.cli.main import KernelState, cli
from supervm.tooling.artifacts import load_artifact
from supervm.tooling.contracts import Contract

pytestmark = pytest.mark.slow  # runs asc (node) through supervm compile

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "contracts"
DEPLOYER = bytes.fromhex("d0" * 20)
ALICE = bytes.fromhex("a1" * 20)
SUPPLY = 10**24


def _kernel() -> Kernel:
    # The EVM plugin is being built beside this one; these contracts do not need it.
    return Kernel.from_plugins(["no:evm_revm_bridge"], env={})


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / "node_modules" / "assemblyscript").is_dir():
        pytest.skip("the npm toolchain (assemblyscript) is not installed: run npm ci")
    out = tmp_path_factory.mktemp("build")
    with _kernel() as kernel:
        result = CliRunner().invoke(
            cli,
            ["compile", str(EXAMPLES / "vault-as"), str(EXAMPLES / "erc20-as"), "--out", str(out)],
            obj=KernelState((), False, kernel),
        )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def contracts(build: Path) -> Iterator[tuple[Contract, Contract]]:
    with _kernel() as kernel:
        state = WorldState(kernel.open_storage("memory"))
        token = Contract(kernel, load_artifact(build / "ERC20.json"), state)
        vault = Contract(kernel, load_artifact(build / "Vault.json"), state)
        assert token.deploy(ExecutionContext(caller=DEPLOYER), "Token", "TOK", SUPPLY).ok
        assert vault.deploy(ExecutionContext(caller=DEPLOYER)).ok
        assert token.transact("transfer", ALICE, 1000, caller=DEPLOYER).ok
        yield token, vault


def test_the_vault_imports_the_call_host_functions(build: Path) -> None:
    artifact = load_artifact(build / "Vault.json")
    assert b"call_contract" in artifact.bytecode
    assert b"call_static" in artifact.bytecode
    names = {i["name"] for i in artifact.abi if i["type"] == "function"}
    assert names == {"deposit", "withdraw", "depositOf", "holdings"}


def test_deposit_and_withdraw_move_tokens_through_the_token_contract(
    contracts: tuple[Contract, Contract],
) -> None:
    token, vault = contracts
    assert token.address is not None and vault.address is not None
    assert token.transact("approve", vault.address, 600, caller=ALICE).ok
    deposit = vault.transact("deposit", token.address, 400, caller=ALICE)
    assert deposit.ok, (deposit.result.error, deposit.revert_reason)
    # The token's Transfer log (from the nested call) comes before the vault's Deposited.
    assert [log.address for log in deposit.result.logs] == [token.address, vault.address]
    assert [name for name, _ in deposit.events] == ["Deposited"]  # the vault's ABI has no Transfer
    assert token.call("balanceOf", ALICE).value == 600
    assert token.call("balanceOf", vault.address).value == 400
    assert token.call("allowance", ALICE, vault.address).value == 200
    assert vault.call("depositOf", token.address, ALICE).value == 400
    assert vault.call("holdings", token.address).value == 400  # a static call to balanceOf

    withdraw = vault.transact("withdraw", token.address, 150, caller=ALICE)
    assert withdraw.ok, withdraw.revert_reason
    assert token.call("balanceOf", ALICE).value == 750
    assert vault.call("depositOf", token.address, ALICE).value == 250


def test_a_token_revert_reverts_the_vault_with_the_tokens_reason(
    contracts: tuple[Contract, Contract],
) -> None:
    token, vault = contracts
    assert token.address is not None and vault.address is not None
    assert token.transact("approve", vault.address, 10, caller=ALICE).ok
    refused = vault.transact("deposit", token.address, 11, caller=ALICE)
    assert not refused.ok
    assert refused.revert_reason == "ERC20: insufficient allowance"
    assert vault.call("depositOf", token.address, ALICE).value == 0
    assert token.call("allowance", ALICE, vault.address).value == 10

    too_much = vault.transact("withdraw", token.address, 1, caller=ALICE)
    assert too_much.revert_reason == "Vault: amount exceeds the deposit"
