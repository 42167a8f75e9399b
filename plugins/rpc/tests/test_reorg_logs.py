"""Logs removed by a reorg: a chain builds two branches, the second heavier, and the head change
the producer publishes (``follow_head_change``) reaches the server's log filters and ``logs``
subscriptions. The removed blocks' matching logs come first, lowest block first and marked
``"removed": true``, then the new branch's, as geth sends them; block filters and ``newHeads``
get the new branch's blocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from supervm import Kernel
from supervm.chain.blocks import BlockHeader
from supervm.chain.chain import BuiltBlock, Chain
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.forks import HeadChange
from supervm.chain.genesis import parse_genesis
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.node.events import ChainEvents, NewBlock
from supervm.node.head_moves import follow_head_change
from supervm.testing.weighted_consensus import WeightedConsensusPlugin
from supervm_rpc.filters import FilterManager, SubscriptionHub, head_logs, log_criteria
from supervm_rpc.testing import LOGGER_TOPIC, hx, log_summary, logger_genesis
from supervm_storage_memory import MemoryStorage

SENDER = dev_accounts(1)[0]
#: Two contracts with the same code: the filters watch the first only.
WATCHED = bytes.fromhex("c1" * 20)
OTHER = bytes.fromhex("c2" * 20)


def genesis_json() -> bytes:
    return logger_genesis(SENDER.address, (WATCHED, OTHER), "heaviest")


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(
        env={}, extra=[("heaviest", WeightedConsensusPlugin("heaviest"))]
    ) as kernel:
        yield kernel


def call(chain: Chain, nonce: int, to: bytes, data: bytes) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=chain.chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=10**9,
        max_fee_per_gas=10 * 10**9,
        gas=200_000,
        to=to,
        data=data,
    )
    return sign_transaction(unsigned, SENDER.private_key)


def build(
    chain: Chain, parent: BlockHeader, weight: int, calls: list[tuple[int, bytes, bytes]]
) -> BuiltBlock:
    """A block on ``parent`` of ``weight`` holding ``calls`` (nonce, contract, input)."""
    built = chain.build_block(
        [call(chain, nonce, to, data) for nonce, to, data in calls],
        timestamp=parent.timestamp + 1,
        extra_data=bytes([weight]) + data_tag(calls),
        parent=parent,
    )
    assert not built.executed.rejected
    return built


def data_tag(calls: list[tuple[int, bytes, bytes]]) -> bytes:
    return b"".join(data for _nonce, _to, data in calls)[:16]


class Recorder:
    """A subscriber that keeps what it is sent."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send(self, frame: bytes) -> None:
        self.frames.append(orjson.loads(frame)["params"])

    def after_response(self, callback: Callable[[], None]) -> None:
        callback()

    def results(self, subscription: str) -> list[Any]:
        return [f["result"] for f in self.frames if f["subscription"] == subscription]


def test_a_reorg_reports_the_removed_logs_first(kernel: Kernel) -> None:
    genesis = genesis_json()
    chain = Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(genesis)), genesis)
    events = ChainEvents()
    filters, hub = FilterManager(), SubscriptionHub()
    events.on_block(filters.on_block)
    events.on_block(hub.on_block)
    watched = log_criteria({"address": hx(WATCHED)}, "filter")
    every = filters.install("logs", watched)
    from_two = filters.install("logs", watched, low=2)  # block 2 and above only
    blocks = filters.install("blocks")
    client = Recorder()
    logs = hub.subscribe(client, "logs", log_criteria({"topics": [hx(LOGGER_TOPIC)]}, "s"), False)
    heads = hub.subscribe(client, "newHeads", None, False)

    def publish(change: HeadChange | None) -> None:
        assert change is not None
        follow_head_change(change.added, change.removed, node=None, pool=None, events=events)

    # Branch A: two blocks of weight 1, with logs of both contracts in its first.
    a1 = build(chain, chain.head, 1, [(0, WATCHED, b"a1"), (1, OTHER, b"a1-other")])
    publish(a1.outcome.head_change)
    a2 = build(chain, a1.block.header, 1, [(2, WATCHED, b"a2")])
    publish(a2.outcome.head_change)
    assert log_summary(filters.changes(every)) == [("a1", 1, False), ("a2", 2, False)]
    assert log_summary(filters.changes(from_two)) == [("a2", 2, False)]
    filters.changes(blocks)

    # Branch B, on genesis, weighs 5: the head moves there and A's logs are gone.
    b1 = build(chain, chain.store.header_by_number(0) or chain.head, 5, [(0, WATCHED, b"b1")])
    change = b1.outcome.head_change
    assert change is not None and change.is_reorg and chain.head == b1.block.header
    publish(change)
    removed_then_new = [("a1", 1, True), ("a2", 2, True), ("b1", 1, False)]
    assert log_summary(filters.changes(every)) == removed_then_new
    assert log_summary(filters.changes(from_two)) == [("a2", 2, True)]
    assert filters.changes(blocks) == [hx(b1.block.hash)]
    assert log_summary(client.results(logs)) == [
        ("a1", 1, False),
        ("a1-other", 1, False),
        ("a2", 2, False),
        ("a1", 1, True),
        ("a1-other", 1, True),
        ("a2", 2, True),
        ("b1", 1, False),
    ]
    removed = [item for item in client.results(logs) if item["removed"]]
    assert [item["blockHash"] for item in removed] == [hx(a1.block.hash)] * 2 + [hx(a2.block.hash)]
    # A removed log is the log as it was served, but for "removed".
    assert {**removed[-1], "removed": False} == client.results(logs)[2]
    assert [h["hash"] for h in client.results(heads)] == [
        hx(a1.block.hash),
        hx(a2.block.hash),
        hx(b1.block.hash),
    ]

    # Branch A grows past B: B's log goes, A's come back (each block of the new branch once).
    a3 = build(chain, a2.block.header, 5, [(3, WATCHED, b"a3")])
    change = a3.outcome.head_change
    assert change is not None and [c.block.hash for c in change.added] == [
        a1.block.hash,
        a2.block.hash,
        a3.block.hash,
    ]
    publish(change)
    assert log_summary(filters.changes(every)) == [
        ("b1", 1, True),
        ("a1", 1, False),
        ("a2", 2, False),
        ("a3", 3, False),
    ]


def test_head_logs_without_a_reorg_are_the_blocks_own(kernel: Kernel) -> None:
    genesis = genesis_json()
    chain = Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(genesis)), genesis)
    built = build(chain, chain.head, 1, [(0, WATCHED, b"x"), (1, OTHER, b"y")])
    new = NewBlock(built.block, built.receipts)
    watched = log_criteria({"address": hx(WATCHED)}, "filter")
    assert log_summary(head_logs(new, watched)) == [("x", 1, False)]
    assert head_logs(new, watched, low=2) == []
    gone = NewBlock(built.block, built.receipts, removed=(new,))
    assert log_summary(head_logs(gone, watched)) == [("x", 1, True), ("x", 1, False)]
