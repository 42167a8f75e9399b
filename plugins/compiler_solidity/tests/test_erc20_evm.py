"""The example ERC20 (examples/contracts/erc20-sol), compiled by the plugin, runs on pyrevm."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import to_checksum_address
from supervm.tooling.compilers import Artifact

pytestmark = pytest.mark.slow  # every test here compiles with solc-js in a node process

DEPLOYER = to_checksum_address("0x" + "d0" * 20)
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b0" * 20)
ZERO = to_checksum_address("0x" + "00" * 20)
SUPPLY = 1_000_000 * 10**18


@pytest.fixture(params=["plain", "optimized"])
def token(request: pytest.FixtureRequest, deploy: Any) -> Any:
    artifact: Artifact = request.getfixturevalue(
        "erc20" if request.param == "plain" else "erc20_optimized"
    )
    return deploy(artifact, "Super Token", "SUP", SUPPLY)


def test_deployment_mints_the_supply_to_the_deployer(token: Any) -> None:
    assert token.call("name") == "Super Token"
    assert token.call("symbol") == "SUP"
    assert token.call("decimals") == 18
    assert token.call("totalSupply") == SUPPLY
    assert token.call("balanceOf", DEPLOYER) == SUPPLY
    assert token.call("balanceOf", ALICE) == 0


def test_transfer_moves_tokens_and_emits_transfer(token: Any) -> None:
    assert token.call("transfer", ALICE, 250) is True
    assert token.logs() == [
        ("Transfer", {"from": DEPLOYER.lower(), "to": ALICE.lower(), "value": 250})
    ]
    assert token.call("balanceOf", ALICE) == 250
    assert token.call("balanceOf", DEPLOYER) == SUPPLY - 250
    assert token.call("transfer", BOB, 50, sender=ALICE) is True
    assert token.call("balanceOf", ALICE) == 200
    assert token.call("balanceOf", BOB) == 50
    assert token.call("totalSupply") == SUPPLY


def test_approve_allowance_and_transfer_from(token: Any) -> None:
    assert token.call("approve", ALICE, 100) is True
    assert token.logs() == [
        ("Approval", {"owner": DEPLOYER.lower(), "spender": ALICE.lower(), "value": 100})
    ]
    assert token.call("allowance", DEPLOYER, ALICE) == 100

    assert token.call("transferFrom", DEPLOYER, BOB, 60, sender=ALICE) is True
    assert token.logs() == [
        ("Transfer", {"from": DEPLOYER.lower(), "to": BOB.lower(), "value": 60})
    ]
    assert token.call("allowance", DEPLOYER, ALICE) == 40
    assert token.call("balanceOf", BOB) == 60
    assert token.call("balanceOf", DEPLOYER) == SUPPLY - 60

    with pytest.raises(Exception) as info:
        token.call("transferFrom", DEPLOYER, BOB, 41, sender=ALICE)
    assert info.value.error == "ERC20InsufficientAllowance"
    assert info.value.fields == {"spender": ALICE.lower(), "allowance": 40, "needed": 41}
    assert token.call("allowance", DEPLOYER, ALICE) == 40


def test_transfer_beyond_the_balance_reverts_and_changes_nothing(token: Any) -> None:
    token.call("transfer", ALICE, 10)
    before = {who: token.call("balanceOf", who) for who in (DEPLOYER, ALICE, BOB)}
    with pytest.raises(Exception) as info:
        token.call("transfer", BOB, 11, sender=ALICE)
    reverted = info.value
    assert type(reverted).__name__ == "Reverted"
    assert reverted.error == "ERC20InsufficientBalance"
    assert reverted.fields == {"sender": ALICE.lower(), "balance": 10, "needed": 11}
    # the kernel's readable decoding, as `supervm` shows it
    assert str(reverted) == f"ERC20InsufficientBalance({ALICE.lower()}, 10, 11)"
    assert token.evm.result.logs == []
    assert {who: token.call("balanceOf", who) for who in (DEPLOYER, ALICE, BOB)} == before
    assert token.call("totalSupply") == SUPPLY


def test_transfer_to_the_zero_address_is_refused(token: Any) -> None:
    with pytest.raises(Exception) as info:
        token.call("transfer", ZERO, 1)
    assert info.value.error == "ERC20InvalidReceiver"
    assert info.value.fields == {"receiver": ZERO.lower()}
