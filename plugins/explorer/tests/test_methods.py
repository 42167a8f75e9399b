"""The ``supervm_`` methods over a real node's JSON-RPC: artifacts, contract info, storage,
an address's transactions, and decoding (calls, creations, logs, revert reasons)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from supervm.chain.dev_accounts import DevAccount
from supervm.crypto import keccak256
from supervm.tooling.abi import encode_call
from supervm.tooling.compilers import Artifact
from supervm_rpc.testing import NodeThread, RpcFailure, hx

TRANSFER_TOPIC = hx(keccak256(b"Transfer(address,address,uint256)"))


def _checksum(node: NodeThread, address: str) -> str:
    info = node.call("supervm_contractInfo", address)
    assert isinstance(info["address"], str)
    return info["address"]


@pytest.fixture(scope="module")
def registered(node: NodeThread, token: dict[str, Any], erc20_json: dict[str, Any]) -> Any:
    """The artifact registered after the token was deployed: it is found by code hash."""
    return node.call("supervm_registerArtifact", erc20_json)


def test_decoding_needs_an_artifact_until_one_is_registered(
    node: NodeThread, token: dict[str, Any], erc20_json: dict[str, Any]
) -> None:
    # Registration happens in the module fixture; this test must run first, before it.
    before = node.call("supervm_decodeTransaction", token["transfer"]["transactionHash"])
    if node.call("supervm_getArtifacts"):
        pytest.skip("an artifact is already registered (test order)")
    assert before["call"] is None
    assert before["logs"][0]["event"] is None
    assert node.call("supervm_getArtifact", token["address"]) is None


def test_register_artifact_summary(
    node: NodeThread, registered: dict[str, Any], erc20: Artifact
) -> None:
    assert registered["name"] == "ERC20"
    assert registered["kind"] == "wasm"
    assert registered["codeHash"] == erc20.code_hash
    assert registered["bytecodeSize"] == len(erc20.bytecode)
    assert "abi" not in registered and "bytecode" not in registered
    listed = node.call("supervm_getArtifacts")
    assert [a["name"] for a in listed] == ["ERC20"]


def test_register_artifact_twice_keeps_one(
    node: NodeThread, registered: dict[str, Any], erc20_json: dict[str, Any]
) -> None:
    node.call("supervm_registerArtifact", erc20_json)
    assert len(node.call("supervm_getArtifacts")) == 1


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("not an object", "an artifact must be a JSON object"),
        ({"name": "X"}, "artifact lacks"),
    ],
)
def test_register_artifact_refuses_bad_input(node: NodeThread, bad: Any, words: str) -> None:
    failure = node.error("supervm_registerArtifact", bad)
    assert failure.code == -32602
    assert words in failure.message


def test_register_artifact_refuses_bad_kind(node: NodeThread, erc20_json: dict[str, Any]) -> None:
    bad = {**copy.deepcopy(erc20_json), "kind": "jvm"}
    failure = node.error("supervm_registerArtifact", bad)
    assert failure.code == -32602 and "kind must be 'wasm' or 'evm'" in failure.message


def test_contract_info_of_the_token(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any], erc20: Artifact
) -> None:
    info = node.call("supervm_contractInfo", token["address"])
    code = node.call("eth_getCode", token["address"], "latest")
    assert info["kind"] == "wasm"
    assert info["codeSize"] == hex((len(code) - 2) // 2)
    assert info["codeHash"] == hx(keccak256(bytes.fromhex(code[2:])))
    assert info["address"].lower() == token["address"].lower()
    assert info["nonce"] == "0x1"
    assert info["artifact"]["name"] == "ERC20"
    names = {item.get("name") for item in info["artifact"]["abi"]}
    assert {"transfer", "Transfer", "balanceOf"} <= names


def test_contract_info_of_an_account(node: NodeThread, accounts: list[DevAccount]) -> None:
    info = node.call("supervm_contractInfo", hx(accounts[5].address))
    assert info["kind"] is None
    assert info["codeSize"] == "0x0"
    assert info["artifact"] is None
    assert info["balance"] == node.call("eth_getBalance", hx(accounts[5].address), "latest")


def test_get_artifact_by_address(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any]
) -> None:
    found = node.call("supervm_getArtifact", token["address"])
    assert found["name"] == "ERC20" and isinstance(found["abi"], list)


def test_decode_transfer_call_and_event(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any], accounts: list[DevAccount]
) -> None:
    decoded = node.call("supervm_decodeTransaction", token["transfer"]["transactionHash"])
    call = decoded["call"]
    assert call["function"] == "transfer"
    assert call["signature"] == "transfer(address,uint256)"
    assert call["exact"] is True
    to, amount = call["args"]
    assert to["type"] == "address" and to["value"].lower() == hx(accounts[1].address)
    assert amount == {"name": amount["name"], "type": "uint256", "value": str(250 * 10**18)}
    (log,) = decoded["logs"]
    assert log["event"] == "Transfer"
    assert log["signature"] == "Transfer(address,address,uint256)"
    assert log["logIndex"] == token["transfer"]["logs"][0]["logIndex"]
    by_name = {a["name"]: a for a in log["args"]}
    assert by_name["from"]["value"].lower() == hx(accounts[0].address)
    assert by_name["from"]["indexed"] is True
    assert by_name["value"]["value"] == str(250 * 10**18) and by_name["value"]["indexed"] is False
    assert decoded["status"] == "0x1" and decoded["revertReason"] is None


def test_decode_creation(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any]
) -> None:
    decoded = node.call("supervm_decodeTransaction", token["deploy"]["transactionHash"])
    assert decoded["call"] is None
    assert decoded["creation"]["artifact"] == "ERC20"
    assert [a["value"] for a in decoded["creation"]["args"]] == [
        "Super Token",
        "SUP",
        str(10**24),
    ]
    assert decoded["contract"]["address"].lower() == token["address"].lower()
    assert decoded["contract"]["artifact"] == "ERC20"


def test_decode_revert_reason(
    node: NodeThread,
    token: dict[str, Any],
    registered: dict[str, Any],
    erc20: Artifact,
    accounts: list[DevAccount],
) -> None:
    # Account 7 holds no tokens: the transfer reverts; explicit gas, so the pool takes it.
    data = encode_call(erc20.abi, "transfer", [hx(accounts[8].address), 5])
    receipt = node.receipt(
        node.send(accounts[7], bytes.fromhex(token["address"][2:]), data, gas=300_000)
    )
    assert receipt["status"] == "0x0"
    decoded = node.call("supervm_decodeTransaction", receipt["transactionHash"])
    assert decoded["revertReason"] == "ERC20: transfer amount exceeds balance"
    assert decoded["returnData"].startswith("0x08c379a0")
    assert decoded["call"]["function"] == "transfer"
    assert decoded["logs"] == []


def test_decode_unknown_transaction_is_null(node: NodeThread) -> None:
    assert node.call("supervm_decodeTransaction", "0x" + "ab" * 32) is None


def test_decode_logs(node: NodeThread, token: dict[str, Any], registered: dict[str, Any]) -> None:
    logs = node.call("eth_getLogs", {"address": token["address"], "fromBlock": "0x0"})
    assert logs
    decoded = node.call("supervm_decodeLogs", logs)
    assert [d["event"] for d in decoded] == ["Transfer"] * len(logs)
    assert [d["logIndex"] for d in decoded] == [log["logIndex"] for log in logs]
    unknown = node.call(
        "supervm_decodeLogs", [{"address": token["address"], "topics": ["0x" + "11" * 32]}]
    )
    assert unknown[0]["event"] is None


def test_decode_logs_refuses_bad_input(node: NodeThread) -> None:
    failure = node.error("supervm_decodeLogs", [{"address": "0x12", "topics": []}])
    assert failure.code == -32602 and "log 0" in failure.message
    assert node.error("supervm_decodeLogs", {"a": 1}).code == -32602


def test_storage_listing_and_paging(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any]
) -> None:
    whole = node.call("supervm_storageAt", token["address"])
    assert whole["next"] is None
    entries = whole["entries"]
    # Name, symbol, supply, and two balances at least.
    assert len(entries) >= 4
    keys = [e["key"] for e in entries]
    assert keys == sorted(keys, key=lambda k: bytes.fromhex(k[2:]))
    first = node.call("supervm_storageAt", token["address"], None, 2)
    assert first["entries"] == entries[:2]
    assert first["next"] == entries[2]["key"]
    rest = node.call("supervm_storageAt", token["address"], first["next"], 1000)
    assert first["entries"] + rest["entries"] == entries
    # Every value read through the standard method agrees (EVM-width keys only).
    for entry in entries:
        if len(entry["key"]) == 66:
            word = node.call("eth_getStorageAt", token["address"], entry["key"], "latest")
            assert int(word, 16) == int(entry["value"], 16)


def test_storage_of_an_account_is_empty(node: NodeThread, accounts: list[DevAccount]) -> None:
    assert node.call("supervm_storageAt", hx(accounts[6].address)) == {
        "entries": [],
        "next": None,
    }


def test_storage_limit_is_checked(node: NodeThread, token: dict[str, Any]) -> None:
    failure = node.error("supervm_storageAt", token["address"], None, 0)
    assert failure.code == -32602 and "limit must be between 1 and 1000" in failure.message


def test_address_transactions(
    node: NodeThread, token: dict[str, Any], registered: dict[str, Any], accounts: list[DevAccount]
) -> None:
    page = node.call("supervm_addressTransactions", token["address"])
    hashes = [t["hash"] for t in page["transactions"]]
    assert token["transfer"]["transactionHash"] in hashes
    assert token["deploy"]["transactionHash"] in hashes
    numbers = [int(t["blockNumber"], 16) for t in page["transactions"]]
    assert numbers == sorted(numbers, reverse=True)
    by_hash = {t["hash"]: t for t in page["transactions"]}
    assert by_hash[token["transfer"]["transactionHash"]]["method"] == "transfer"
    deploy = by_hash[token["deploy"]["transactionHash"]]
    assert deploy["method"] == "create" and deploy["to"] is None
    assert deploy["contractAddress"].lower() == token["address"].lower()
    assert page["nextBlock"] is None  # the dev chain is short: everything was scanned
    # The receiver of tokens sees the transfer (an indexed argument of the Transfer log).
    receiver = node.call("supervm_addressTransactions", hx(accounts[1].address))
    assert token["transfer"]["transactionHash"] in [t["hash"] for t in receiver["transactions"]]


def test_address_transactions_pages(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    sender = hx(accounts[0].address)
    whole = node.call("supervm_addressTransactions", sender, None, 500)["transactions"]
    assert len(whole) >= 2
    first = node.call("supervm_addressTransactions", sender, None, 1)
    assert first["transactions"][0] == whole[0]
    assert first["nextBlock"] == whole[0]["blockNumber"]
    rest = node.call("supervm_addressTransactions", sender, first["nextBlock"], 500)
    assert first["transactions"] + rest["transactions"] == whole


def test_address_transactions_refuses_bad_address(node: NodeThread) -> None:
    with pytest.raises(RpcFailure) as failure:
        node.call("supervm_addressTransactions", "0x1234")
    assert failure.value.code == -32602
