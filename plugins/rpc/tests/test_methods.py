"""Every method against a real dev node: shapes field by field, block tags, and the error codes
(-32602 bad arguments, -32000 refusals, 3 reverts)."""

from __future__ import annotations

import json
import re
from typing import Any

import coincurve
import pytest
from eth_abi import decode
from supervm.chain.dev_accounts import DevAccount
from supervm.chain.receipts import logs_bloom
from supervm.crypto import keccak256
from supervm.model import Log
from supervm.state.trie import verify_proof
from supervm.tooling.abi import encode_call
from supervm_rpc.testing import NodeThread, hx

CHAIN_ID = 31337
SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
DATA = re.compile(r"^0x([0-9a-f]{2})*$")
HASH = re.compile(r"^0x[0-9a-f]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
STRANGER = bytes.fromhex("5e" * 20)
#: An address no test ever pays.
NOBODY = bytes.fromhex("77" * 20)


def calldata(abi: Any, name: str, *args: Any) -> str:
    return hx(encode_call(abi, name, list(args)))


def word(address: str) -> str:
    return "0x" + address[2:].rjust(64, "0")


def test_web3_and_net(node: NodeThread) -> None:
    assert re.fullmatch(
        r"SuperVM/v0\.1\.0/[a-z0-9_-]+/python3\.\d+\.\d+", node.call("web3_clientVersion")
    )
    assert node.call("web3_sha3", "0x68656c6c6f20776f726c64") == hx(keccak256(b"hello world"))
    assert node.call("web3_sha3", "0x") == hx(keccak256(b""))
    assert node.call("net_version") == str(CHAIN_ID)
    assert node.call("net_listening") is True
    assert node.call("net_peerCount") == "0x0"
    assert node.call("eth_chainId") == hex(CHAIN_ID)
    assert node.call("eth_syncing") is False
    assert QUANTITY.match(node.call("eth_blockNumber"))


def test_accounts_are_the_dev_accounts(node: NodeThread, accounts: list[DevAccount]) -> None:
    assert node.call("eth_accounts") == [hx(a.address) for a in accounts]


def test_balance_nonce_and_transfer(node: NodeThread, accounts: list[DevAccount]) -> None:
    sender, recipient = accounts[3], bytes.fromhex("a1" * 20)
    before = int(node.call("eth_getBalance", hx(sender.address), "latest"), 16)
    nonce = int(node.call("eth_getTransactionCount", hx(sender.address)), 16)
    receipt = node.transfer(sender, recipient, value=12345)
    assert node.call("eth_getBalance", hx(recipient), "latest") == hex(12345)
    assert node.call("eth_getBalance", hx(recipient)) == hex(12345)  # the tag is optional
    after = int(node.call("eth_getBalance", hx(sender.address), "pending"), 16)
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert before - after == 12345 + fee
    assert node.call("eth_getTransactionCount", hx(sender.address), "latest") == hex(nonce + 1)
    # EIP-1898 objects name the head too.
    head = node.call("eth_getBlockByNumber", "latest", False)
    by_hash = {"blockHash": head["hash"]}
    assert node.call("eth_getBalance", hx(recipient), by_hash) == hex(12345)
    assert node.call("eth_getBalance", hx(recipient), {"blockNumber": head["number"]}) == hex(12345)
    assert node.call("eth_getBalance", hx(recipient), head["hash"]) == hex(12345)
    assert node.call("eth_getBalance", hx(recipient), "safe") == hex(12345)
    assert node.call("eth_getBalance", hx(recipient), "finalized") == hex(12345)


def test_earlier_blocks_answer_with_their_state(
    node: NodeThread, accounts: list[DevAccount]
) -> None:
    before = int(node.call("eth_getBalance", hx(STRANGER), "latest"), 16)
    number = node.call("eth_blockNumber")
    node.transfer(accounts[4], STRANGER)
    assert int(node.call("eth_getBalance", hx(STRANGER), number), 16) == before
    assert int(node.call("eth_getBalance", hx(STRANGER), "latest"), 16) > before
    assert node.call("eth_getTransactionCount", hx(accounts[4].address), "earliest") == "0x0"
    genesis = int(node.call("eth_getBalance", hx(accounts[4].address), "earliest"), 16)
    assert genesis == 10_000 * 10**18
    failure = node.error("eth_getBalance", hx(accounts[4].address), "0xffffff")
    assert (failure.code, failure.message) == (-32000, "header not found")
    unknown = {"blockHash": "0x" + "ab" * 32}
    assert node.error("eth_getCode", hx(STRANGER), unknown).message == "header not found"


def test_invalid_arguments_are_32602(node: NodeThread) -> None:
    cases: list[tuple[str, list[Any], str]] = [
        ("eth_getBalance", ["0x1234", "latest"], "invalid argument 0: hex string has length 4, want 40"),  # noqa: E501
        ("eth_getBalance", ["f39fd6e51aad88f6f4ce6ab8827279cfffb92266"], "hex string without 0x prefix"),  # noqa: E501
        ("eth_getBalance", [12, "latest"], "expected a hex string, got a number"),
        ("eth_getBalance", [hx(STRANGER), "newest"], "invalid block number 'newest'"),
        ("eth_getBalance", [hx(STRANGER), True], "expected a hex string, got a boolean"),
        ("eth_getBalance", [], "missing value for required argument 0"),
        ("eth_getBalance", [hx(STRANGER), "latest", 1], "too many arguments, want at most 2"),
        ("eth_getBlockByNumber", ["latest", "yes"], "expected a boolean"),
        ("eth_getBlockByNumber", ["0xzz"], "invalid hex string"),
        ("web3_sha3", ["0x123"], "hex string of odd length"),
        ("eth_getTransactionByHash", ["0x1234"], "want 64"),
        ("eth_getStorageAt", [hx(STRANGER), "0x" + "1" * 65], "at most 32 bytes"),
        ("eth_call", ["not an object"], "expected a transaction object"),
        ("eth_call", [{"to": hx(STRANGER), "data": "0x01", "input": "0x02"}], 'both "data" and "input"'),  # noqa: E501
        ("eth_getLogs", [{"topics": [None] * 5}], "exceed max topics"),
        ("eth_getLogs", [{"blockHash": "0x" + "00" * 32, "fromBlock": "0x1"}], "cannot specify both"),  # noqa: E501
        ("eth_feeHistory", ["0x2", "latest", [50, 10]], "invalid reward percentile"),
        ("eth_getBalance", [hx(STRANGER), {"blockHash": "0x" + "00" * 32, "blockNumber": "0x0"}], "exactly one"),  # noqa: E501
    ]  # fmt: skip
    for method, params, expected in cases:
        failure = node.error(method, *params)
        assert failure.code == -32602, (method, params, failure.message)
        assert expected in failure.message, (method, params, failure.message)
    # Named parameters are a -32602 for SuperVM's methods (a plugin's may take them).
    answer = node.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {"a": 1}})
    assert b"-32602" in answer[2] and b"non-array args" in answer[2]


def test_unknown_method_is_32601(node: NodeThread) -> None:
    failure = node.error("eth_doesNotExist")
    assert failure.code == -32601
    assert failure.message == "the method eth_doesNotExist does not exist/is not available"


def test_a_plugin_adds_methods_through_the_registry(node: NodeThread) -> None:
    assert node.call("test_big", 3) == "xxx"
    assert node.call("test_bigint") == 2**70  # beyond 64 bits: serialised all the same
    answer = node.post({"jsonrpc": "2.0", "id": 7, "method": "test_named", "params": {"a": 1}})
    assert answer[2] == b'{"jsonrpc":"2.0","id":7,"result":{"a":1}}'
    refused = node.error("test_refuse")
    assert (refused.code, refused.message, refused.data) == (
        -32099,
        "refused by the plugin",
        {"why": "testing"},
    )
    broken = node.error("test_boom")
    assert broken.code == -32603 and "the plugin broke" in broken.message


def test_fees(node: NodeThread) -> None:
    head = node.call("eth_getBlockByNumber", "latest", False)
    tip = int(node.call("eth_maxPriorityFeePerGas"), 16)
    assert tip > 0
    price = int(node.call("eth_gasPrice"), 16)
    assert price > int(head["baseFeePerGas"], 16) // 2 and price >= tip
    history = node.call("eth_feeHistory", "0x3", "latest", [10, 50, 90])
    number = int(head["number"], 16)
    assert history["oldestBlock"] == hex(max(0, number - 2))
    count = min(3, number + 1)
    assert len(history["baseFeePerGas"]) == count + 1
    assert history["baseFeePerGas"][-2] == head["baseFeePerGas"]
    assert len(history["gasUsedRatio"]) == count and all(
        0 <= r <= 1 for r in history["gasUsedRatio"]
    )
    assert len(history["reward"]) == count and all(len(r) == 3 for r in history["reward"])
    assert all(QUANTITY.match(v) for row in history["reward"] for v in row)
    assert (
        len(history["baseFeePerBlobGas"]) == count + 1 and len(history["blobGasUsedRatio"]) == count
    )
    assert "reward" not in node.call("eth_feeHistory", 2, "latest")


def test_deploy_receipt_and_code(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    receipt = token["receipt"]
    assert ADDRESS.match(receipt["contractAddress"])
    assert receipt["to"] is None and receipt["from"] == hx(accounts[0].address)
    for field in (
        "blockNumber",
        "transactionIndex",
        "gasUsed",
        "cumulativeGasUsed",
        "effectiveGasPrice",
        "type",
        "status",
    ):
        assert QUANTITY.match(receipt[field]), field
    assert receipt["type"] == "0x2"
    assert HASH.match(receipt["blockHash"]) and HASH.match(receipt["transactionHash"])
    assert len(receipt["logsBloom"]) == 2 + 512
    (minted,) = receipt["logs"]  # Transfer(0, deployer, supply)
    assert minted["topics"] == [
        TRANSFER_TOPIC,
        word("0x" + "00" * 20),
        word(hx(accounts[0].address)),
    ]
    assert int(minted["data"], 16) == SUPPLY and minted["removed"] is False
    assert minted["address"] == token["address"]
    code = node.call("eth_getCode", token["address"], "latest")
    assert code.startswith("0x0061736d")  # \0asm
    assert node.call("eth_getCode", hx(STRANGER)) == "0x"


def test_call_estimate_and_revert(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    abi, address = token["abi"], token["address"]
    deployer = hx(accounts[0].address)
    balance_of = calldata(abi, "balanceOf", accounts[0].address)
    balance = node.call("eth_call", {"to": address, "data": balance_of}, "latest")
    assert DATA.match(balance) and decode(["uint256"], bytes.fromhex(balance[2:]))[0] <= SUPPLY
    # input and data are the same thing; equal values may be given both ways.
    assert node.call("eth_call", {"to": address, "input": balance_of}) == balance
    assert (
        node.call("eth_call", {"to": address, "input": balance_of, "data": balance_of}) == balance
    )
    name = node.call("eth_call", {"to": address, "data": calldata(abi, "name")}, "pending")
    assert decode(["string"], bytes.fromhex(name[2:]))[0] == "Super Token"
    # Transferring more than the balance reverts with OpenZeppelin's reason.
    too_much = calldata(abi, "transfer", STRANGER, SUPPLY + 1)
    failure = node.error("eth_call", {"from": deployer, "to": address, "data": too_much})
    assert failure.code == 3
    assert failure.message == "execution reverted: ERC20: transfer amount exceeds balance"
    assert failure.data.startswith("0x08c379a0")
    reason = decode(["string"], bytes.fromhex(failure.data[10:]))[0]
    assert reason == "ERC20: transfer amount exceeds balance"
    estimate = node.error("eth_estimateGas", {"from": deployer, "to": address, "data": too_much})
    assert (estimate.code, estimate.message, estimate.data) == (3, failure.message, failure.data)
    # A transfer that works: the estimate is enough and not absurd.
    ok = calldata(abi, "transfer", STRANGER, 5)
    gas = int(node.call("eth_estimateGas", {"from": deployer, "to": address, "data": ok}), 16)
    assert 21_000 < gas < 1_000_000
    assert node.call(
        "eth_estimateGas", {"from": deployer, "to": hx(STRANGER), "value": "0x1"}
    ) == hex(21_000)
    # Other failures are -32000 with the message.
    poor = node.error("eth_call", {"from": hx(NOBODY), "to": deployer, "value": "0x1"})
    assert poor.code == -32000 and "insufficient funds" in poor.message
    low = node.error(
        "eth_estimateGas", {"from": deployer, "to": address, "data": ok, "gas": "0x5300"}
    )
    assert low.code == -32000
    with pytest.raises(AssertionError, match="state and block overrides"):
        node.call("eth_call", {"to": address, "data": balance_of}, "latest", {})


def test_storage_at_and_proof(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    who = accounts[0].address
    assert node.call("eth_getStorageAt", hx(NOBODY), "0x0", "latest") == "0x" + "00" * 32
    proof = node.call("eth_getProof", hx(who), ["0x0"], "latest")
    head = node.call("eth_getBlockByNumber", "latest", False)
    root = bytes.fromhex(head["stateRoot"][2:])
    leaf = verify_proof(root, keccak256(who), [bytes.fromhex(n[2:]) for n in proof["accountProof"]])
    assert leaf is not None  # the account is in the head's state root
    assert proof["balance"] == node.call("eth_getBalance", hx(who), "latest")
    assert proof["nonce"] == node.call("eth_getTransactionCount", hx(who), "latest")
    assert proof["codeHash"] == hx(keccak256(b""))
    assert proof["storageProof"][0]["value"] == "0x0"
    missing = node.call("eth_getProof", hx(NOBODY), [], "latest")
    absent = verify_proof(
        root, keccak256(NOBODY), [bytes.fromhex(n[2:]) for n in missing["accountProof"]]
    )
    assert absent is None and missing["balance"] == "0x0"
    contract = node.call("eth_getProof", token["address"], [], "latest")
    assert contract["codeHash"] != hx(keccak256(b"")) and contract["nonce"] == "0x1"
    # An earlier block's proof verifies against that block's root, with that block's balance.
    genesis = node.call("eth_getBlockByNumber", "earliest", False)
    old = node.call("eth_getProof", hx(who), [], "earliest")
    old_root = bytes.fromhex(genesis["stateRoot"][2:])
    nodes = [bytes.fromhex(n[2:]) for n in old["accountProof"]]
    assert verify_proof(old_root, keccak256(who), nodes) is not None
    assert old["balance"] == node.call("eth_getBalance", hx(who), "earliest")


def test_blocks_and_transactions(node: NodeThread, accounts: list[DevAccount]) -> None:
    receipt = node.transfer(accounts[5], STRANGER, value=7)
    number, block_hash = receipt["blockNumber"], receipt["blockHash"]
    index = int(receipt["transactionIndex"], 16)
    light = node.call("eth_getBlockByNumber", number, False)
    full = node.call("eth_getBlockByHash", block_hash, True)
    assert light["hash"] == block_hash and full["number"] == number
    assert light["transactions"][index] == receipt["transactionHash"]
    tx = full["transactions"][index]
    assert tx == node.call("eth_getTransactionByHash", receipt["transactionHash"])
    assert tx == node.call("eth_getTransactionByBlockNumberAndIndex", number, hex(index))
    assert tx == node.call("eth_getTransactionByBlockHashAndIndex", block_hash, hex(index))
    for field in (
        "type",
        "chainId",
        "nonce",
        "gas",
        "gasPrice",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "value",
        "v",
        "r",
        "s",
        "yParity",
        "blockNumber",
        "transactionIndex",
    ):
        assert QUANTITY.match(tx[field]), field
    assert tx["from"] == hx(accounts[5].address) and tx["to"] == hx(STRANGER)
    assert tx["value"] == "0x7" and tx["accessList"] == [] and tx["input"] == "0x"
    assert tx["blockHash"] == block_hash and tx["v"] == tx["yParity"]
    assert tx["gasPrice"] == receipt["effectiveGasPrice"]
    for field in (
        "number",
        "gasLimit",
        "gasUsed",
        "timestamp",
        "baseFeePerGas",
        "size",
        "difficulty",
    ):
        assert QUANTITY.match(light[field]), field
    for field in (
        "parentHash",
        "stateRoot",
        "transactionsRoot",
        "receiptsRoot",
        "sha3Uncles",
        "mixHash",
    ):
        assert HASH.match(light[field]), field
    assert light["uncles"] == [] and light["withdrawals"] == []
    count = hex(len(light["transactions"]))
    assert node.call("eth_getBlockTransactionCountByNumber", number) == count
    assert node.call("eth_getBlockTransactionCountByHash", block_hash) == count
    # What does not exist is null.
    missing = "0x" + "ee" * 32
    assert node.call("eth_getBlockByHash", missing, False) is None
    assert node.call("eth_getBlockByNumber", "0xffffff", False) is None
    assert node.call("eth_getTransactionByHash", missing) is None
    assert node.call("eth_getTransactionReceipt", missing) is None
    assert node.call("eth_getTransactionByBlockNumberAndIndex", number, "0xfff") is None
    assert node.call("eth_getBlockTransactionCountByHash", missing) is None
    assert node.call("eth_getBlockByNumber", "earliest", False)["number"] == "0x0"
    assert node.call("eth_getBlockByNumber", "pending", False)["number"] >= number


def test_log_index_counts_across_the_block(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    """Two token transfers in one block: the second's log has logIndex 1 in its receipt, in
    eth_getLogs and in the block's bloom."""
    abi, address = token["abi"], bytes.fromhex(token["address"][2:])
    sender = accounts[0]
    base = int(node.call("eth_getTransactionCount", hx(sender.address), "pending"), 16)
    raws = [
        node.sign(sender, address, bytes.fromhex(calldata(abi, "transfer", STRANGER, 1 + i)[2:]), nonce=base + i, gas=200_000)  # noqa: E501
        for i in range(2)
    ]  # fmt: skip
    # One batch: both enter the pool before the producer seals.
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [hx(raw)]}
        for i, raw in enumerate(raws)
    ]
    _status, _headers, body = node.post(batch)
    hashes = [a["result"] for a in sorted(json.loads(body), key=lambda a: a["id"])]
    receipts = [node.receipt(h) for h in hashes]
    if receipts[0]["blockHash"] != receipts[1]["blockHash"]:
        pytest.skip("the producer sealed the two transfers in different blocks")
    first, second = receipts
    assert first["logs"][0]["logIndex"] == "0x0" and second["logs"][0]["logIndex"] == "0x1"
    assert int(second["cumulativeGasUsed"], 16) == int(first["gasUsed"], 16) + int(
        second["gasUsed"], 16
    )
    logs = node.call("eth_getLogs", {"blockHash": first["blockHash"]})
    assert logs == [first["logs"][0], second["logs"][0]]
    block = node.call("eth_getBlockByHash", first["blockHash"], False)
    raw_logs = [
        Log(
            address,
            tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
            bytes.fromhex(entry["data"][2:]),
        )
        for entry in logs
    ]
    assert block["logsBloom"] == hx(logs_bloom(raw_logs))


def test_get_logs_criteria(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    abi, address = token["abi"], token["address"]
    receiver = bytes.fromhex("c0" * 20)
    tx_hash = node.send(
        accounts[0],
        bytes.fromhex(address[2:]),
        bytes.fromhex(calldata(abi, "transfer", receiver, 99)[2:]),
        gas=200_000,
    )
    receipt = node.receipt(tx_hash)
    (expected,) = receipt["logs"]
    number = receipt["blockNumber"]
    span = {"fromBlock": number, "toBlock": number}
    to_receiver = word(hx(receiver))
    assert node.call("eth_getLogs", {**span, "address": address}) == [expected]
    assert node.call("eth_getLogs", {**span, "address": [hx(STRANGER), address]}) == [expected]
    assert node.call("eth_getLogs", {**span, "address": hx(STRANGER)}) == []
    assert node.call("eth_getLogs", {**span, "topics": [TRANSFER_TOPIC, None, to_receiver]}) == [
        expected
    ]
    assert node.call(
        "eth_getLogs", {**span, "topics": [None, None, [word(hx(STRANGER)), to_receiver]]}
    ) == [expected]
    assert node.call("eth_getLogs", {**span, "topics": [[TRANSFER_TOPIC], [], None]}) == [expected]
    assert node.call("eth_getLogs", {**span, "topics": [None, None, word(hx(STRANGER))]}) == []
    assert node.call("eth_getLogs", {**span, "topics": [None, None, None, TRANSFER_TOPIC]}) == []
    everything = node.call(
        "eth_getLogs", {"fromBlock": "earliest", "toBlock": "latest", "address": address}
    )
    assert expected in everything and token["receipt"]["logs"][0] in everything
    assert node.call("eth_getLogs", {"fromBlock": "0x7fffffff"}) == []
    far = node.error("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(50_000)})
    assert far.code == -32005 and "block range too large" in far.message
    backwards = node.error("eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x1"})
    assert (backwards.code, backwards.message) == (-32000, "invalid block range params")


def test_filters_return_only_what_happened_after_them(
    node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]
) -> None:
    abi, address = token["abi"], token["address"]
    # Something happens before the filters exist: their first poll must not show it.
    node.transfer(accounts[6], STRANGER)
    blocks = node.call("eth_newBlockFilter")
    logs = node.call("eth_newFilter", {"address": address})
    pending = node.call("eth_newPendingTransactionFilter")
    assert node.call("eth_getFilterChanges", blocks) == []
    assert node.call("eth_getFilterChanges", logs) == []
    assert node.call("eth_getFilterChanges", pending) == []
    tx_hash = node.send(
        accounts[0],
        bytes.fromhex(address[2:]),
        bytes.fromhex(calldata(abi, "transfer", STRANGER, 3)[2:]),
        gas=200_000,
    )
    receipt = node.receipt(tx_hash)
    assert receipt["blockHash"] in node.call("eth_getFilterChanges", blocks)
    assert node.call("eth_getFilterChanges", blocks) == []  # delivered once
    assert node.call("eth_getFilterChanges", logs) == receipt["logs"]
    assert tx_hash in node.call("eth_getFilterChanges", pending)
    # eth_getFilterLogs is the whole query again (default range: the latest block).
    assert node.call("eth_getFilterLogs", logs) == (
        receipt["logs"] if node.call("eth_blockNumber") == receipt["blockNumber"] else []
    )
    ranged = node.call(
        "eth_newFilter", {"fromBlock": "0x1", "toBlock": "latest", "address": address}
    )
    assert token["receipt"]["logs"][0] in node.call("eth_getFilterLogs", ranged)
    assert node.error("eth_getFilterLogs", blocks).message == "filter not found"
    assert node.call("eth_uninstallFilter", blocks) is True
    assert node.call("eth_uninstallFilter", blocks) is False
    failure = node.error("eth_getFilterChanges", blocks)
    assert (failure.code, failure.message) == (-32000, "filter not found")
    assert node.error("eth_getFilterChanges", 12).message == "filter not found"


def test_filters_expire_without_polls(strict_node: NodeThread) -> None:
    import time

    kept = strict_node.call("eth_newBlockFilter")
    dropped = strict_node.call("eth_newBlockFilter")
    for _ in range(6):
        time.sleep(0.15)
        assert strict_node.call("eth_getFilterChanges", kept) == []
    assert strict_node.error("eth_getFilterChanges", dropped).message == "filter not found"


def test_send_raw_transaction_errors(node: NodeThread, accounts: list[DevAccount]) -> None:
    garbage = node.error("eth_sendRawTransaction", "0xc0")
    assert garbage.code == -32000 and garbage.message.startswith("rlp: ")
    blob = node.error("eth_sendRawTransaction", "0x03c0")
    assert blob.code == -32000 and blob.message.startswith("transaction type not supported")
    assert node.error("eth_sendRawTransaction", "0x").message.startswith("rlp: ")
    assert node.error("eth_sendRawTransaction", "0xzz").code == -32602
    assert node.error("eth_sendRawTransaction", 5).code == -32602
    assert node.error("eth_sendRawTransaction").code == -32602
    sender = accounts[7]
    node.transfer(sender, STRANGER)
    stale = node.error(
        "eth_sendRawTransaction", hx(node.sign(sender, STRANGER, nonce=0, gas=21_000))
    )
    assert stale.code == -32000 and stale.message.startswith("nonce too low")
    low_gas = node.error("eth_sendRawTransaction", hx(node.sign(sender, STRANGER, gas=20_000)))
    assert low_gas.code == -32000 and low_gas.message.startswith("intrinsic gas too low")
    wrong_chain = node.error(
        "eth_sendRawTransaction", hx(node.sign(sender, STRANGER, gas=21_000, chain_id=1))
    )
    assert wrong_chain.code == -32000 and "invalid chain id" in wrong_chain.message
    # The same transaction twice: the pool refuses the second with geth's words.
    raw = hx(node.sign(sender, STRANGER, gas=21_000, nonce=10_000))
    node.call("eth_sendRawTransaction", raw)
    assert node.error("eth_sendRawTransaction", raw).code == -32000


def test_pool_transactions_and_txpool(node: NodeThread, accounts: list[DevAccount]) -> None:
    sender = accounts[8]
    gap = int(node.call("eth_getTransactionCount", hx(sender.address), "pending"), 16) + 5
    queued_hash = node.send(sender, STRANGER, nonce=gap, gas=21_000)
    pooled = node.call("eth_getTransactionByHash", queued_hash)
    assert pooled["hash"] == queued_hash and pooled["nonce"] == hex(gap)
    assert pooled["blockHash"] is None and pooled["blockNumber"] is None
    assert pooled["transactionIndex"] is None
    assert node.call("eth_getTransactionReceipt", queued_hash) is None
    status = node.call("txpool_status")
    assert int(status["queued"], 16) >= 1 and QUANTITY.match(status["pending"])
    content = node.call("txpool_content")
    from supervm_rpc.shapes import checksum_address

    assert content["queued"][checksum_address(sender.address)][str(gap)]["hash"] == queued_hash
    assert checksum_address(sender.address) == sender.checksum_address


def test_pending_nonce_counts_the_pool(node: NodeThread, accounts: list[DevAccount]) -> None:
    sender = accounts[9]
    latest = int(node.call("eth_getTransactionCount", hx(sender.address), "latest"), 16)
    node.call(
        "eth_sendRawTransaction",
        hx(
            node.sign(
                sender,
                STRANGER,
                nonce=latest,
                gas=21_000,
                max_fee_per_gas=10**9 // 10**6,
                max_priority_fee_per_gas=0,
            )
        ),
    )
    # Underpriced for the base fee: it waits in the pool, and "pending" counts it.
    assert node.call("eth_getTransactionCount", hx(sender.address), "pending") == hex(latest + 1)
    assert node.call("eth_getTransactionCount", hx(sender.address), "latest") == hex(latest)


def test_send_transaction_and_sign(node: NodeThread, accounts: list[DevAccount]) -> None:
    sender = hx(accounts[1].address)
    tx_hash = node.call("eth_sendTransaction", {"from": sender, "to": hx(STRANGER), "value": "0x3"})
    receipt = node.receipt(tx_hash)
    assert (
        receipt["status"] == "0x1"
        and receipt["from"] == sender
        and receipt["gasUsed"] == hex(21_000)
    )
    legacy = node.call(
        "eth_sendTransaction",
        {"from": sender, "to": hx(STRANGER), "gasPrice": hex(5 * 10**9), "gas": hex(21_000)},
    )
    assert node.receipt(legacy)["type"] == "0x0"
    unknown = node.error("eth_sendTransaction", {"from": hx(STRANGER), "to": sender})
    assert unknown.code == -32000 and "unknown account" in unknown.message
    assert node.error("eth_sendTransaction", {"to": sender}).code == -32602
    message = b"hello"
    signature = bytes.fromhex(node.call("eth_sign", sender, hx(message))[2:])
    assert len(signature) == 65 and signature[64] in (27, 28)
    digest = keccak256(b"\x19Ethereum Signed Message:\n5" + message)
    public = coincurve.PublicKey.from_signature_and_message(
        signature[:64] + bytes((signature[64] - 27,)), digest, hasher=None
    )
    assert keccak256(public.format(compressed=False)[1:])[12:] == accounts[1].address
    assert node.error("eth_sign", hx(STRANGER), "0x00").code == -32000


def test_without_a_pool_transactions_are_refused_clearly(
    poolless_node: NodeThread, accounts: list[DevAccount]
) -> None:
    raw = hx(poolless_node.sign(accounts[0], STRANGER, nonce=0, gas=21_000))
    failure = poolless_node.error("eth_sendRawTransaction", raw)
    assert failure.code == -32000 and "no transaction pool" in failure.message
    assert (
        poolless_node.call("eth_getTransactionCount", hx(accounts[0].address), "pending") == "0x0"
    )
    assert "no transaction pool" in poolless_node.error("txpool_status").message
