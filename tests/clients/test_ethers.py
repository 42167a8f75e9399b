"""ethers v6, unchanged, against ``supervm node --dev`` (``js/ethers.mjs`` run with node).

The script deploys the WASM ERC20 with ``ContractFactory``, calls and transfers, reads events
with ``queryFilter`` and ``contract.on`` over WebSocket, sends batches (ethers' own and one by
hand) and makes a reverting call; it prints what it saw and this test checks every value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_utils.address import to_checksum_address
from supervm.chain.dev_accounts import DevAccount
from web3.types import Nonce
from web3.utils.address import get_create_address

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "js" / "ethers.mjs"

SUPPLY = 777_000 * 10**18
AMOUNT = 1234 * 10**18
REVERT_REASON = "ERC20: transfer amount exceeds balance"
ZERO_ADDRESS = "0x" + "00" * 20


@pytest.fixture(scope="module")
def ethers_run(
    run_js: Callable[..., Any], accounts: list[DevAccount]
) -> tuple[dict[str, Any], str, str]:
    owner = accounts[2]
    # A fresh recipient: its balances start at zero, so every expected value is exact.
    recipient = Account.create().address
    result = run_js(
        [str(SCRIPT)],
        env={
            "SUPERVM_PRIVATE_KEY": "0x" + owner.private_key.hex(),
            "SUPERVM_RECIPIENT": recipient,
            "SUPERVM_SUPPLY": str(SUPPLY),
        },
    )
    return result.output, owner.checksum_address, recipient


def test_deploy_with_contract_factory(ethers_run: tuple[dict[str, Any], str, str]) -> None:
    out, owner, _ = ethers_run
    assert out["chainId"] == "31337"
    assert out["owner"] == owner
    assert out["address"] == get_create_address(
        to_checksum_address(owner), Nonce(int(out["deployNonce"]))
    )
    assert out["deploy"]["status"] == 1
    assert out["deploy"]["contractAddress"] == out["address"]
    assert out["deploy"]["logs"] == 1  # the constructor's mint
    assert out["codeIsModule"] is True


def test_calls(ethers_run: tuple[dict[str, Any], str, str]) -> None:
    out, _, _ = ethers_run
    assert out["calls"] == {
        "name": "Token",
        "symbol": "TOK",
        "decimals": "18",
        "totalSupply": str(SUPPLY),
        "ownerBalance": str(SUPPLY),
    }


def test_transfer_and_events(ethers_run: tuple[dict[str, Any], str, str]) -> None:
    out, owner, recipient = ethers_run
    transfer = out["transfer"]
    assert transfer["status"] == 1
    assert transfer["type"] == 2  # ethers sends EIP-1559 transactions when the node has a base fee
    assert transfer["blockNumber"] > out["deploy"]["blockNumber"]
    assert transfer["parsed"] == [{"name": "Transfer", "args": [owner, recipient, str(AMOUNT)]}]
    assert out["balancesAfter"] == {"owner": str(SUPPLY - AMOUNT), "recipient": str(AMOUNT)}
    # contract.on("Transfer") over WebSocket saw the transfer, not the mint before it.
    assert out["wsEvent"] == {
        "from": owner,
        "to": recipient,
        "value": str(AMOUNT),
        "transactionHash": transfer["hash"],
    }
    # queryFilter with the indexed sender: only the transfer (the mint is from the zero address).
    assert out["queryFromOwner"] == [
        {"from": owner, "to": recipient, "value": str(AMOUNT), "tx": transfer["hash"]}
    ]
    assert out["queryAll"] == [
        {"from": ZERO_ADDRESS, "to": owner, "value": str(SUPPLY)},
        {"from": owner, "to": recipient, "value": str(AMOUNT)},
    ]


def test_batches(ethers_run: tuple[dict[str, Any], str, str]) -> None:
    out = ethers_run[0]
    # ethers' own batch: the four requests went out as one JSON array and came back as one.
    batch = out["providerBatch"]
    sent = [entry["sent"] for entry in batch["wire"] if "sent" in entry]
    assert [
        "eth_chainId",
        "eth_blockNumber",
        "eth_getBalance",
        "eth_getTransactionCount",
    ] in sent
    assert {"received": 4} in batch["wire"]
    chain_id, block_number, balance, nonce = batch["results"]
    assert chain_id == "0x7a69"
    assert int(block_number, 16) >= out["deploy"]["blockNumber"]
    assert int(balance, 16) < int(out["ownerEthBefore"])  # the deploy cost gas
    assert int(nonce, 16) == int(out["deployNonce"]) + 1
    # Over the whole run, ethers batched whenever calls were concurrent (the Promise.all calls).
    assert any(
        isinstance(entry.get("sent"), list) and len(entry["sent"]) > 1 for entry in out["wire"]
    )
    # The batch sent by hand with fetch: an array of answers matched by id, errors in place.
    raw = out["rawBatch"]
    assert raw["status"] == 200
    assert raw["contentType"].startswith("application/json")
    body = raw["body"]
    assert isinstance(body, list) and len(body) == 3
    by_id = {answer["id"]: answer for answer in body}
    assert set(by_id) == {1, "two", 3}
    assert all(answer["jsonrpc"] == "2.0" for answer in body)
    assert by_id[1]["result"] == "0x7a69"
    (total,) = abi_decode(["uint256"], bytes.fromhex(by_id["two"]["result"][2:]))
    assert total == SUPPLY
    assert by_id[3]["error"]["code"] == -32601
    assert "result" not in by_id[3]


def test_reverting_call_throws_call_exception(ethers_run: tuple[dict[str, Any], str, str]) -> None:
    out, _, _ = ethers_run
    revert = out["revert"]
    assert revert["threw"] is True, revert
    assert revert["code"] == "CALL_EXCEPTION"
    data = revert["data"]
    assert isinstance(data, str) and data.startswith("0x08c379a0"), revert
    (reason,) = abi_decode(["string"], bytes.fromhex(data[10:]))
    assert reason == REVERT_REASON
    assert revert["reason"] == REVERT_REASON
    assert revert["revertName"] == "Error"
    assert revert["revertArgs"] == [REVERT_REASON]
