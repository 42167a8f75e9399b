"""The ``producer`` service: seals the node's blocks from the pool's transactions.

With ``block_time`` 0 (dev mode's default) a block is sealed as soon as transactions are
pending: the producer waits for the pool's next transaction, takes everything executable, and
seals; transactions that arrive while a block is being sealed go into the next one, so under
load blocks grow instead of multiplying. With a block time it seals every ``block_time``
seconds, empty or not, as geth's ``--dev.period`` does.

Sealing needs the key of an authority: ``--validator-key FILE``, or in dev mode the key of dev
account 0 (the dev chain's one authority). A node without one does not produce blocks.

With several authorities the consensus engine's sealing slot decides when: in turn at once,
out of turn after a random delay, not at all after sealing too recently; a new head arriving
first (a block for the same height from the network, or a reorg: whoever imports it publishes
it on the chain events) cancels the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from supervm.chain.blocks import BlockHeader
from supervm.chain.chain import BuiltBlock, Chain
from supervm.chain.consensus import ConsensusError
from supervm.chain.dev_accounts import dev_account
from supervm.chain.pipeline import next_base_fee
from supervm.chain.transactions import Transaction
from supervm.node.access import NodeChain
from supervm.node.config import NodeConfig
from supervm.node.events import ChainEvents
from supervm.node.head_moves import follow_head_change
from supervm.node.keyfile import address_of, load_validator_key
from supervm.node.keys import CHAIN, CONFIG, EVENTS, POOL
from supervm.node.pool import TransactionPoolService
from supervm.services.metrics import Metrics
from supervm.services.service import Service, ServiceContext

log = logging.getLogger("supervm.node.producer")


class BlockProducer(Service):
    """Seals blocks on the node's chain while the node runs.

    Each round takes the head, asks the consensus engine for this sealer's slot on it
    (:meth:`~supervm.chain.consensus.ConsensusEngine.sealing_slot`), waits for it, and seals. A
    new head arriving meanwhile (a block from the network for the slot it waits on, or a reorg
    to another branch) makes the slot stale: the round starts again on the new head, so an
    out-of-turn sealer that sees the in-turn block first never seals a competing one. A sealer
    the engine refuses for now (it sealed too recently) waits for the next head.
    """

    def __init__(self) -> None:
        self._key: bytes | None = None
        self.sealed = 0
        #: Rounds given up because the head moved while waiting for the slot.
        self.stale_slots = 0

    async def start(self, context: ServiceContext) -> None:
        config = context.stash.get(CONFIG) or NodeConfig(dev=True)
        node = context.stash[CHAIN]
        if config.validator_key is not None:
            self._key = load_validator_key(config.validator_key)
        elif config.dev:
            self._key = dev_account(0).private_key
        else:
            log.info("no --validator-key: this node does not seal blocks")
            return
        sealer = address_of(self._key)
        proposer = node.chain.consensus.proposer(node.head.number + 1, node.head, chain=node.store)
        authorities = node.chain.genesis.consensus.validators
        if authorities and sealer not in authorities:
            raise ValueError(
                f"the validator key's address 0x{sealer.hex()} is not an authority of this chain"
            )
        log.info("sealing as 0x%s (next proposer 0x%s)", sealer.hex(), proposer.hex())
        context.spawn(self._run(context, node, config.block_time), name="producer")

    async def stop(self) -> None:
        pass  # the host cancels the loop; a block being sealed finishes in the writer thread

    async def _run(self, context: ServiceContext, node: NodeChain, block_time: float) -> None:
        events = context.stash[EVENTS]
        metrics = context.metrics
        head_moved = asyncio.Event()
        events.on_block(lambda _new: head_moved.set())
        sealer = address_of(self._key or b"")
        seen_hash, seen_at = b"", time.monotonic()
        while True:
            head = node.head
            if head.hash != seen_hash:
                seen_hash, seen_at = head.hash, time.monotonic()
            head_moved.clear()
            # The pool's service may start after this one (or not at all): look it up here.
            pool = context.stash.get(POOL)
            if block_time <= 0 and not (pool is not None and pool.pending(next_base_fee(head))):
                # Nothing executable (an empty pool, or fee caps below the base fee): sleep
                # until the pool accepts another transaction or another head arrives.
                await _first(events.wait_for_pending(), head_moved.wait())
                continue
            try:
                slot = node.chain.consensus.sealing_slot(sealer, head, chain=node.store)
            except ConsensusError as exc:
                # "Signed recently, must wait for others": only another head can change that.
                log.debug("not sealing on block %d: %s", head.number, exc)
                await head_moved.wait()
                continue
            delay = slot.delay
            if block_time > 0:
                delay = max(delay, seen_at + block_time - time.monotonic())
            if delay > 0 and await _interrupted(head_moved, delay):
                self.stale_slots += 1
                continue
            txs = pool.pending(next_base_fee(head)) if pool is not None else []
            if not txs and block_time <= 0:
                continue
            await self.seal(node, pool, events, metrics, txs, parent=head, timestamp=slot.timestamp)

    async def seal(
        self,
        node: NodeChain,
        pool: TransactionPoolService | None,
        events: ChainEvents,
        metrics: Metrics,
        txs: list[Transaction],
        *,
        parent: BlockHeader | None = None,
        timestamp: int | None = None,
    ) -> BuiltBlock | None:
        """Seal one block of ``txs`` (in order) on ``parent`` and tell the pool and listeners.

        Without ``timestamp`` the engine's slot is asked for and waited for first. Returns
        ``None``, sealing nothing, if the head is no longer ``parent`` once the writer thread
        is free (another block arrived first).
        """
        key = self._key or b""
        chain = node.chain
        head = node.head if parent is None else parent
        if timestamp is None:
            slot = chain.consensus.sealing_slot(address_of(key), head, chain=node.store)
            if slot.delay > 0:
                # Out of turn, or timestamps ahead of the clock after a burst of blocks: wait,
                # and take what arrived meanwhile too.
                await asyncio.sleep(slot.delay)
                if pool is not None:
                    txs = pool.pending(next_base_fee(head))
            timestamp = slot.timestamp
        started = time.perf_counter()

        def build(chain: Chain) -> BuiltBlock | None:
            if chain.head.hash != head.hash:
                return None
            return chain.build_block(txs, timestamp=timestamp, key=key)

        built = await node.write(build)
        if built is None:
            self.stale_slots += 1
            return None
        elapsed = time.perf_counter() - started
        if pool is not None:
            # Transactions execution refused (the pool's view was stale) would be offered
            # again forever: drop them; block_added drops what the new state invalidates.
            for rejected, _reason in built.executed.rejected:
                pool.remove(rejected.hash)
        outcome = built.outcome
        if outcome is not None and outcome.head_change is not None:
            change = outcome.head_change
            follow_head_change(change.added, change.removed, node=node, pool=pool, events=events)
        self.sealed += 1
        _record(metrics, node.chain, built, elapsed)
        header = built.block.header
        log.info(
            "sealed block %d with %d transactions, %d gas, in %.0f ms",
            header.number,
            len(built.block.transactions),
            header.gas_used,
            elapsed * 1000,
            extra={
                "fields": {
                    "event": "block_sealed",
                    "number": header.number,
                    "hash": "0x" + header.hash.hex(),
                    "transactions": len(built.block.transactions),
                    "gas_used": header.gas_used,
                    "state_root": "0x" + header.state_root.hex(),
                    "milliseconds": round(elapsed * 1000, 1),
                }
            },
        )
        return built


async def _interrupted(event: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``; whether ``event`` was set meanwhile (the wait is cut short)."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until one of ``waits`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _record(metrics: Metrics, chain: Chain, built: BuiltBlock, elapsed: float) -> None:
    header = built.block.header
    timings = chain.last_timings
    metrics.set("chain_head_block", header.number)
    metrics.inc("chain_blocks_sealed_total")
    metrics.inc("chain_transactions_total", len(built.block.transactions))
    metrics.inc("chain_gas_used_total", header.gas_used)
    execution = timings.get("execution", elapsed)
    metrics.observe("chain_block_execution_seconds", execution)
    metrics.observe("chain_block_commit_seconds", timings.get("commit", 0.0))
    metrics.observe("chain_block_seal_seconds", elapsed)
    if elapsed > 0:
        metrics.set("chain_gas_per_second", header.gas_used / elapsed)
    # Only a scheduler that executes speculatively re-executes; it reports how often.
    stats = getattr(chain.scheduler, "last_stats", None)
    reexecutions = getattr(stats, "reexecutions", 0)
    if isinstance(reexecutions, int) and reexecutions:
        metrics.inc("chain_reexecutions_total", reexecutions)
