"""web3.py, unchanged, against ``supervm node --dev``: the AssemblyScript ERC20 end to end.

Every transaction is signed locally with eth-account and sent with ``eth_sendRawTransaction``,
as a wallet or a deployment script does; calls, logs, filters, gas estimates, blocks, fee history
and a WebSocket ``newHeads`` subscription go through web3.py's public API only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from supervm.chain.dev_accounts import DevAccount
from web3 import AsyncWeb3, Web3, WebSocketProvider
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import Nonce, TxParams, TxReceipt, Wei
from web3.utils.address import get_create_address

pytestmark = pytest.mark.slow

SUPPLY = 1_000_000 * 10**18
REVERT_REASON = "ERC20: transfer amount exceeds balance"
#: ``Error(string)``'s selector: what a Solidity ``require`` reverts with, and so does the ERC20.
ERROR_SELECTOR = "0x08c379a0"
ZERO_ADDRESS = "0x" + "00" * 20
RECEIPT_TIMEOUT = 30.0


@attrs.frozen
class Deployed:
    """The token this module deployed.

    :param contract: web3.py's contract object for it.
    :param receipt: the create transaction's receipt.
    :param tx_hash: the create transaction's hash.
    :param owner: the deployer (dev account 0), who got the whole supply.
    """

    contract: Contract
    receipt: TxReceipt
    tx_hash: HexBytes
    owner: DevAccount


@pytest.fixture(scope="module")
def w3(node_url: str) -> Web3:
    """web3.py over HTTP."""
    web3 = Web3(Web3.HTTPProvider(node_url, request_kwargs={"timeout": 30}))
    # Unchanged: no middleware. (A dev chain carries no Clique seal, whose 97-byte extraData
    # web3.py refuses without its PoA middleware; see docs/node.md.)
    assert web3.is_connected()
    return web3


def _address(account: DevAccount) -> ChecksumAddress:
    return to_checksum_address(account.address)


def send_signed(w3: Web3, tx: TxParams, account: DevAccount) -> tuple[HexBytes, TxReceipt]:
    """Sign ``tx`` locally, send it raw, wait for its receipt."""
    signed = Account.sign_transaction(dict(tx), account.private_key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert HexBytes(tx_hash) == HexBytes(signed.hash)
    receipt = w3.eth.wait_for_transaction_receipt(
        tx_hash, timeout=RECEIPT_TIMEOUT, poll_latency=0.05
    )
    return HexBytes(tx_hash), receipt


def _base(w3: Web3, account: DevAccount) -> TxParams:
    address = _address(account)
    return {
        "from": address,
        "nonce": w3.eth.get_transaction_count(address, "pending"),
        "chainId": w3.eth.chain_id,
    }


def transfer(
    w3: Web3, token: Contract, sender: DevAccount, to: str, amount: int, gas: int | None = None
) -> tuple[HexBytes, TxReceipt]:
    """``token.transfer(to, amount)`` from ``sender``: build_transaction, sign, send raw."""
    params = _base(w3, sender)
    if gas is not None:
        params["gas"] = gas
    tx = token.functions.transfer(to, amount).build_transaction(params)
    return send_signed(w3, tx, sender)


@pytest.fixture(scope="module")
def deployed(w3: Web3, erc20_artifact: dict[str, Any], accounts: list[DevAccount]) -> Deployed:
    """Deploy the WASM ERC20 with a raw signed create transaction (constructor args appended)."""
    owner = accounts[0]
    factory = w3.eth.contract(abi=erc20_artifact["abi"], bytecode=erc20_artifact["bytecode"])
    base = _base(w3, owner)
    tx = factory.constructor("Token", "TOK", SUPPLY).build_transaction(base)
    assert "to" not in tx or not tx["to"]
    tx_hash, receipt = send_signed(w3, tx, owner)
    assert receipt["status"] == 1, receipt
    address = receipt["contractAddress"]
    assert address is not None
    # A create lands at keccak(rlp([sender, nonce])), as Ethereum's CREATE.
    assert address == get_create_address(_address(owner), Nonce(base["nonce"]))
    contract = w3.eth.contract(address=address, abi=erc20_artifact["abi"])
    return Deployed(contract=contract, receipt=receipt, tx_hash=tx_hash, owner=owner)


def test_chain_id_and_accounts(w3: Web3, accounts: list[DevAccount]) -> None:
    assert w3.eth.chain_id == 31337
    assert w3.net.version == "31337"
    # A dev node lists its funded accounts, as Hardhat and anvil do.
    assert [a.lower() for a in w3.eth.accounts] == ["0x" + a.address.hex() for a in accounts]


def test_deploy_stores_the_module(
    w3: Web3, deployed: Deployed, erc20_artifact: dict[str, Any]
) -> None:
    receipt = deployed.receipt
    assert receipt["to"] is None
    assert receipt["from"] == _address(deployed.owner)
    assert receipt["gasUsed"] > 21_000
    assert receipt["effectiveGasPrice"] > 0
    tx = w3.eth.get_transaction(deployed.tx_hash)
    assert tx["to"] is None
    assert tx["blockNumber"] == receipt["blockNumber"]
    # The stored code is the module; the constructor arguments after it are not part of it.
    code = w3.eth.get_code(deployed.contract.address)
    assert code == HexBytes(erc20_artifact["bytecode"])
    # The constructor's mint is a Transfer from the zero address, in the create receipt.
    mints = deployed.contract.events.Transfer().process_receipt(receipt)
    assert len(mints) == 1
    assert mints[0]["args"]["from"] == ZERO_ADDRESS
    assert mints[0]["args"]["to"] == _address(deployed.owner)
    assert mints[0]["args"]["value"] == SUPPLY


def test_calls_through_the_abi(deployed: Deployed) -> None:
    token = deployed.contract
    assert token.functions.name().call() == "Token"
    assert token.functions.symbol().call() == "TOK"
    assert token.functions.decimals().call() == 18
    assert token.functions.totalSupply().call() == SUPPLY
    # Calls take block numbers as well as tags. (The node keeps the head's state only, like a
    # pruned node, so the number is the head's.)
    head = token.w3.eth.block_number
    assert head >= deployed.receipt["blockNumber"]
    owner = _address(deployed.owner)
    assert token.functions.totalSupply().call(block_identifier=head) == SUPPLY
    assert token.functions.balanceOf(owner).call(block_identifier="latest") <= SUPPLY


def test_transfer_and_logs(w3: Web3, deployed: Deployed, accounts: list[DevAccount]) -> None:
    token, owner = deployed.contract, deployed.owner
    to = _address(accounts[1])
    before_owner = token.functions.balanceOf(_address(owner)).call()
    before_to = token.functions.balanceOf(to).call()
    amount = 1234 * 10**18
    tx_hash, receipt = transfer(w3, token, owner, to, amount)
    assert receipt["status"] == 1
    assert token.functions.balanceOf(_address(owner)).call() == before_owner - amount
    assert token.functions.balanceOf(to).call() == before_to + amount
    assert token.functions.totalSupply().call() == SUPPLY

    # eth_getLogs through the contract's event: the mint and this transfer, in order.
    events = list(token.events.Transfer.get_logs(from_block=deployed.receipt["blockNumber"]))
    ours = [e for e in events if e["transactionHash"] == tx_hash]
    assert len(ours) == 1
    event = ours[0]
    assert event["args"]["from"] == _address(owner)
    assert event["args"]["to"] == to
    assert event["args"]["value"] == amount
    assert event["blockNumber"] == receipt["blockNumber"]
    assert event["blockHash"] == receipt["blockHash"]
    assert event["address"] == token.address
    assert events[0]["args"]["from"] == ZERO_ADDRESS  # the constructor's mint comes first

    # eth_getLogs with a topic filter on the indexed recipient, and one that matches nothing.
    topic0 = HexBytes(event_abi_to_log_topic(token.events.Transfer().abi))
    to_topic = HexBytes(bytes(12) + accounts[1].address)
    logs = w3.eth.get_logs(
        {
            "address": token.address,
            "fromBlock": receipt["blockNumber"],
            "toBlock": receipt["blockNumber"],
            "topics": [topic0, None, to_topic],
        }
    )
    assert [log["transactionHash"] for log in logs] == [tx_hash]
    assert logs[0]["topics"][0] == topic0
    assert int.from_bytes(logs[0]["data"], "big") == amount
    assert logs[0]["logIndex"] == receipt["logs"][0]["logIndex"]
    nobody = HexBytes(bytes(12) + accounts[9].address)
    none = w3.eth.get_logs(
        {
            "address": token.address,
            "fromBlock": receipt["blockNumber"],
            "toBlock": receipt["blockNumber"],
            "topics": [topic0, None, nobody],
        }
    )
    assert list(none) == []
    # By block hash, as EIP-234 allows.
    by_hash = w3.eth.get_logs({"blockHash": receipt["blockHash"], "address": token.address})
    assert [log["transactionHash"] for log in by_hash] == [tx_hash]


def test_filter_first_poll_has_only_new_events(
    w3: Web3, deployed: Deployed, accounts: list[DevAccount]
) -> None:
    token, owner = deployed.contract, deployed.owner
    to = _address(accounts[2])
    # A transfer in the block that is "latest" when the filter is made must not show up.
    old_hash, old_receipt = transfer(w3, token, owner, to, 1)
    assert w3.eth.block_number == old_receipt["blockNumber"]
    log_filter = token.events.Transfer.create_filter(from_block="latest")
    block_filter = w3.eth.filter("latest")
    new_hash, new_receipt = transfer(w3, token, owner, to, 2)
    entries = log_filter.get_new_entries()
    assert [e["transactionHash"] for e in entries] == [new_hash]
    assert entries[0]["args"]["value"] == 2
    assert entries[0]["args"]["to"] == to
    assert old_hash not in [e["transactionHash"] for e in entries]
    # A second poll has nothing new.
    assert log_filter.get_new_entries() == []
    # A block filter reports the hashes of blocks sealed since it was made.
    blocks: list[Any] = list(block_filter.get_new_entries())  # block hashes, not logs
    assert new_receipt["blockHash"] in blocks
    assert old_receipt["blockHash"] not in blocks
    for installed in (log_filter, block_filter):
        assert installed.filter_id is not None
        assert w3.eth.uninstall_filter(installed.filter_id) is True


def _decode_error_string(data: str) -> str:
    assert data.startswith(ERROR_SELECTOR), data
    (reason,) = abi_decode(["string"], bytes.fromhex(data[len(ERROR_SELECTOR) :]))
    return str(reason)


def test_reverting_transfer(w3: Web3, deployed: Deployed, accounts: list[DevAccount]) -> None:
    token = deployed.contract
    poor = accounts[3]
    balance = token.functions.balanceOf(_address(poor)).call()
    call = token.functions.transfer(_address(accounts[4]), balance + 1)
    with pytest.raises(ContractLogicError) as info:
        call.call({"from": _address(poor)})
    assert info.value.message == f"execution reverted: {REVERT_REASON}"
    assert isinstance(info.value.data, str)
    assert _decode_error_string(info.value.data) == REVERT_REASON
    # Estimating gas for it fails the same way (build_transaction estimates).
    with pytest.raises(ContractLogicError) as estimate:
        call.estimate_gas({"from": _address(poor)})
    assert estimate.value.message == f"execution reverted: {REVERT_REASON}"
    # Sent anyway with a fixed gas limit, it is mined and fails: status 0, no logs, fee paid.
    before = w3.eth.get_balance(_address(poor))
    params = _base(w3, poor)
    params["gas"] = 200_000
    tx = call.build_transaction(params)
    _, receipt = send_signed(w3, tx, poor)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(_address(poor)) == before - fee
    assert token.functions.balanceOf(_address(poor)).call() == balance


def test_estimate_gas(w3: Web3, deployed: Deployed, accounts: list[DevAccount]) -> None:
    token, owner = deployed.contract, deployed.owner
    to = _address(accounts[5])
    estimate = token.functions.transfer(to, 10).estimate_gas({"from": _address(owner)})
    assert 21_000 < estimate < 1_000_000
    # The estimate is enough: a transfer given exactly that much gas succeeds.
    _, receipt = transfer(w3, token, owner, to, 10, gas=estimate)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= estimate
    # A plain value transfer costs exactly 21,000.
    assert w3.eth.estimate_gas({"from": _address(owner), "to": to, "value": Wei(1)}) == 21_000


def test_get_block(w3: Web3, deployed: Deployed, accounts: list[DevAccount]) -> None:
    token, owner = deployed.contract, deployed.owner
    tx_hash, receipt = transfer(w3, token, owner, _address(accounts[6]), 5)
    number = receipt["blockNumber"]
    block = w3.eth.get_block(number)
    assert block["number"] == number
    assert block["hash"] == receipt["blockHash"]
    hashes = [h for h in block["transactions"] if isinstance(h, bytes)]
    assert len(hashes) == len(block["transactions"])  # hashes only, without full transactions
    assert tx_hash in hashes
    parent = w3.eth.get_block(number - 1)
    assert block["parentHash"] == parent["hash"]
    assert block["timestamp"] >= parent["timestamp"]
    assert block["gasUsed"] >= receipt["gasUsed"]
    assert block["baseFeePerGas"] > 0
    assert len(block["logsBloom"]) == 256
    # Clique's layout: 32 bytes of vanity, then the sealer's signature (r, s, v).
    assert len(block["extraData"]) <= 32  # web3.py's default validation holds
    # The same block by hash, and "latest" is at least this one.
    assert w3.eth.get_block(receipt["blockHash"])["number"] == number
    assert w3.eth.get_block("latest")["number"] >= number
    full = w3.eth.get_block(number, full_transactions=True)
    assert full["hash"] == block["hash"]
    txs = [t for t in full["transactions"] if not isinstance(t, bytes)]
    assert len(txs) == len(block["transactions"])
    ours = [t for t in txs if t["hash"] == tx_hash]
    assert len(ours) == 1
    tx: Any = ours[0]
    assert tx["from"] == _address(owner)
    assert tx["to"] == token.address
    assert tx["blockHash"] == block["hash"]
    assert tx["blockNumber"] == number
    assert tx["transactionIndex"] == receipt["transactionIndex"]
    assert tx["input"] == HexBytes(token.encode_abi("transfer", [_address(accounts[6]), 5]))
    assert tx["chainId"] == 31337
    assert tx["type"] == 2
    assert tx["yParity"] in (0, 1)


def test_fee_history(w3: Web3, deployed: Deployed) -> None:
    head = w3.eth.block_number
    assert head >= 2
    history = w3.eth.fee_history(3, "latest", [25, 75])
    assert history["oldestBlock"] == head - 2
    # One more base fee than blocks: the next block's.
    assert len(history["baseFeePerGas"]) == 4
    assert len(history["gasUsedRatio"]) == 3
    assert len(history["reward"]) == 3
    assert all(len(r) == 2 for r in history["reward"])
    assert all(0 <= ratio <= 1 for ratio in history["gasUsedRatio"])
    latest = w3.eth.get_block(head)
    assert history["baseFeePerGas"][-2] == latest["baseFeePerGas"]
    assert history["gasUsedRatio"][-1] == pytest.approx(latest["gasUsed"] / latest["gasLimit"])


async def _next_head_after_a_transaction(
    ws_url: str, sender: DevAccount, to: str
) -> tuple[dict[str, Any], HexBytes, int]:
    async with AsyncWeb3(WebSocketProvider(ws_url)) as w3:
        assert await w3.eth.chain_id == 31337
        sub_id = await w3.eth.subscribe("newHeads")
        assert isinstance(sub_id, str) and sub_id.startswith("0x")
        start = await w3.eth.block_number
        address = to_checksum_address(sender.address)
        block = await w3.eth.get_block("latest")
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": await w3.eth.get_transaction_count(address, "pending"),
            "to": to,
            "value": 1,
            "gas": 21_000,
            "maxPriorityFeePerGas": 10**9,
            "maxFeePerGas": 2 * block["baseFeePerGas"] + 10**9,
        }
        signed = Account.sign_transaction(tx, sender.private_key)
        tx_hash = HexBytes(await w3.eth.send_raw_transaction(signed.raw_transaction))

        async def first_head() -> dict[str, Any]:
            async for message in w3.socket.process_subscriptions():
                assert message["subscription"] == sub_id
                head = dict(message["result"])
                if head["number"] > start:
                    return head
            raise AssertionError("the subscription stream ended")

        head = await asyncio.wait_for(first_head(), timeout=RECEIPT_TIMEOUT)
        assert await w3.eth.unsubscribe(sub_id) is True
        # The head is a real block: the node serves it by hash, with our transaction in it.
        block = await w3.eth.get_block(head["hash"])
        assert block["number"] == head["number"]
        assert tx_hash in [HexBytes(h) for h in block["transactions"]]
        return head, tx_hash, start


def test_subscribe_new_heads_over_websocket(
    w3: Web3, ws_url: str, accounts: list[DevAccount]
) -> None:
    head, tx_hash, start = asyncio.run(
        _next_head_after_a_transaction(ws_url, accounts[7], _address(accounts[8]))
    )
    assert head["number"] == start + 1
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["blockHash"] == head["hash"]
    assert head["parentHash"] == w3.eth.get_block(start)["hash"]
    for field in ("stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom", "timestamp"):
        assert field in head, field
