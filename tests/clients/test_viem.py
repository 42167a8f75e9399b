"""viem, unchanged, against ``supervm node --dev`` (``js/viem.mjs`` run with node).

The script reads balances, sends a signed ETH transfer, deploys the WASM ERC20, reads it with
``readContract`` and transfers with ``writeContract``; this test checks every value it printed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from supervm.chain.dev_accounts import DevAccount
from web3.types import Nonce
from web3.utils.address import get_create_address

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "js" / "viem.mjs"
SUPPLY = 500_000 * 10**18
REVERT_REASON = "ERC20: transfer amount exceeds balance"


@pytest.fixture(scope="module")
def viem_run(
    run_js: Callable[..., Any], accounts: list[DevAccount]
) -> tuple[dict[str, Any], str, str]:
    sender = accounts[3]
    # A fresh recipient holds nothing, so its balances after are exactly what was sent.
    recipient = Account.create().address
    result = run_js(
        [str(SCRIPT)],
        env={
            "SUPERVM_PRIVATE_KEY": "0x" + sender.private_key.hex(),
            "SUPERVM_RECIPIENT": recipient,
            "SUPERVM_SUPPLY": str(SUPPLY),
        },
    )
    return result.output, sender.checksum_address, recipient


def test_reads_balances_and_sends_a_signed_transfer(
    viem_run: tuple[dict[str, Any], str, str],
) -> None:
    out, sender, recipient = viem_run
    assert out["chainId"] == 31337
    assert out["walletChainId"] == 31337
    assert out["sender"] == sender
    assert out["recipientBefore"] == "0"
    assert int(out["senderBefore"]) > 0
    transfer = out["ethTransfer"]
    assert transfer["status"] == "success"
    assert transfer["type"] == "eip1559"
    assert transfer["contractAddress"] is None
    assert int(transfer["gasUsed"]) == 21_000
    value = int(out["value"])
    assert value == 15 * 10**17
    assert int(out["recipientAfter"]) == value
    fee = int(transfer["gasUsed"]) * int(transfer["effectiveGasPrice"])
    assert int(out["senderAfter"]) == int(out["senderBefore"]) - value - fee
    assert out["ethTx"] == {
        "from": sender.lower(),
        "to": recipient.lower(),
        "value": str(value),
        "type": "eip1559",
        "chainId": 31337,
        "nonce": out["ethTx"]["nonce"],
    }


def test_deploys_reads_and_writes_the_token(viem_run: tuple[dict[str, Any], str, str]) -> None:
    out, sender, recipient = viem_run
    deploy = out["deploy"]
    assert deploy["status"] == "success"
    # The deploy came right after the ETH transfer, and landed at CREATE(sender, nonce).
    assert out["deployNonce"] == out["ethTx"]["nonce"] + 1
    assert (
        deploy["contractAddress"].lower()
        == get_create_address(to_checksum_address(sender), Nonce(out["deployNonce"])).lower()
    )
    assert out["name"] == "Token"
    assert out["ownerTokens"] == str(SUPPLY)
    assert out["simulatedOk"] is True
    amount = int(out["amount"])
    assert out["tokenTransfer"]["status"] == "success"
    assert int(out["tokenTransfer"]["blockNumber"]) > int(deploy["blockNumber"])
    assert out["tokenLogs"] == [
        {"eventName": "Transfer", "args": {"from": sender, "to": recipient, "value": str(amount)}}
    ]
    assert out["ownerTokensAfter"] == str(SUPPLY - amount)
    assert out["recipientTokens"] == str(amount)


def test_simulated_revert_has_the_reason(viem_run: tuple[dict[str, Any], str, str]) -> None:
    out, _, _ = viem_run
    revert = out["revert"]
    assert revert["threw"] is True, revert
    assert revert["reverted"] is True, revert
    assert revert["reason"] == REVERT_REASON
    assert revert["errorName"] == "Error"
