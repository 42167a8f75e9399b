"""Automining: on a dev node a send answers once its transaction is in a block (as Hardhat and
anvil do), alone or in a batch; with ``automine=False`` it answers on admission."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervm import Kernel
from supervm.chain.dev_accounts import DevAccount
from supervm.node import NodeConfig
from supervm_rpc.testing import NodeThread, hx

STRANGER = bytes.fromhex("a7" * 20)


def test_a_dev_node_automines_by_default() -> None:
    assert NodeConfig(dev=True).automining
    assert not NodeConfig(dev=True, block_time=1.0).automining
    assert not NodeConfig(dev=False).automining
    assert not NodeConfig(dev=True, automine=False).automining
    assert NodeConfig(dev=False, automine=True).automining


def test_a_send_answers_once_its_receipt_exists(
    node: NodeThread, accounts: list[DevAccount]
) -> None:
    for _ in range(3):
        tx_hash = node.send(accounts[3], STRANGER, value=1, gas=21_000)
        receipt = node.call("eth_getTransactionReceipt", tx_hash)  # at once, no polling
        assert receipt is not None and receipt["status"] == "0x1"


def test_a_batch_of_sends_answers_once_all_are_sealed(
    node: NodeThread, accounts: list[DevAccount]
) -> None:
    sender = accounts[4]
    first = int(node.call("eth_getTransactionCount", hx(sender.address), "pending"), 16)
    raws = [node.sign(sender, STRANGER, value=1, gas=21_000, nonce=first + i) for i in range(20)]
    before = int(node.call("eth_blockNumber"), 16)
    status, _, body = node.post(
        [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [hx(raw)]}
            for i, raw in enumerate(raws)
        ]
    )
    assert status == 200
    hashes = [answer["result"] for answer in json.loads(body)]
    receipts = [node.call("eth_getTransactionReceipt", h) for h in hashes]
    assert all(r is not None and r["status"] == "0x1" for r in receipts)
    # Submitted together, sealed together: not one block per transaction.
    blocks = {r["blockNumber"] for r in receipts}
    assert len(blocks) < 20
    assert int(node.call("eth_blockNumber"), 16) - before == len(blocks)


def test_a_send_the_next_block_cannot_include_answers_at_once(
    node: NodeThread, accounts: list[DevAccount]
) -> None:
    """A nonce gap keeps a transaction queued, a fee cap below the base fee keeps it waiting:
    no block is coming for either, so the send answers on admission, as without automining,
    not after the wait's bound (30 s, as long as a client's own timeout)."""
    import time

    import supervm_rpc.automine as automine

    assert automine.INCLUSION_TIMEOUT >= 30.0
    gapped, cheap = accounts[5], accounts[8]
    gap = int(node.call("eth_getTransactionCount", hx(gapped.address), "pending"), 16) + 5
    started = time.monotonic()
    queued = node.send(gapped, STRANGER, value=1, gas=21_000, nonce=gap)
    underpriced = node.send(cheap, STRANGER, value=1, gas=21_000, max_fee_per_gas=1,
                            max_priority_fee_per_gas=0)  # fmt: skip
    assert time.monotonic() - started < 10.0
    for tx_hash in (queued, underpriced):
        assert node.call("eth_getTransactionReceipt", tx_hash) is None
        assert node.call("eth_getTransactionByHash", tx_hash)["blockHash"] is None


@pytest.fixture(scope="module")
def plain_node(kernel: Kernel) -> Iterator[NodeThread]:
    with tempfile.TemporaryDirectory() as tmp:
        config = NodeConfig(dev=True, rpc_port=0, data_dir=Path(tmp), automine=False)
        running = NodeThread(kernel, config)
        yield running
        running.stop()


def test_without_automining_a_send_answers_on_admission(
    plain_node: NodeThread, accounts: list[DevAccount]
) -> None:
    """A queued transaction (a nonce gap) never gets a block soon: with automining its send
    would wait the whole bound, without it the send answers at once."""
    import time

    import supervm_rpc.automine as automine

    sender = accounts[6]
    gap = int(plain_node.call("eth_getTransactionCount", hx(sender.address), "pending"), 16) + 5
    saved = automine.INCLUSION_TIMEOUT
    automine.INCLUSION_TIMEOUT = 30.0
    try:
        started = time.monotonic()
        plain_node.send(sender, STRANGER, value=1, gas=21_000, nonce=gap)
        assert time.monotonic() - started < 10.0
    finally:
        automine.INCLUSION_TIMEOUT = saved
