"""Automining: a send answers once its transaction is in a block, as on Hardhat and anvil.

A dev node seals as soon as transactions arrive, but a send still answers before the block is
sealed; tools written for Hardhat's automining network read the receipt the moment the send
returns (hardhat-chai-matchers' ``.emit``, ``changeTokenBalances``). With
:attr:`~supervm.node.config.NodeConfig.automining` the send waits for the block instead.

A batch's sends are all submitted first and awaited together after the batch
(:data:`BATCH_INCLUSIONS`), so a batch of a thousand transactions waits for its blocks once,
not for one block per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import Final

from supervm.node.events import ChainEvents, NewBlock

#: The inclusions the batch being answered waits for after its last call; ``None`` outside a
#: batch, where a send waits for its own.
BATCH_INCLUSIONS: Final[contextvars.ContextVar[list[Awaitable[None]] | None]] = (
    contextvars.ContextVar("batch_inclusions", default=None)
)
#: Seconds a send waits for its block at most, if the transaction stays pending that long
#: (a nonce gap, a fee below the base fee): it then answers as a non-automining node does.
INCLUSION_TIMEOUT: Final = 30.0


class Inclusions:
    """Futures resolved when their transactions are sealed or leave the pool unsealed.

    One block listener for every waiting send: a block resolves its transactions' futures by
    hash, and any other waiter whose transaction the pool no longer holds (replaced, dropped).

    :param events: the chain's block events.
    :param pooled: whether the pool still holds a transaction, by hash.
    """

    def __init__(self, events: ChainEvents, pooled: Callable[[bytes], bool]) -> None:
        self._events = events
        self._pooled = pooled
        self._waiting: dict[bytes, asyncio.Future[None]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def wait(self, tx_hash: bytes) -> Awaitable[None]:
        """An awaitable that completes when ``tx_hash`` is sealed (or gone, or timed out)."""
        if self._unsubscribe is None:
            self._unsubscribe = self._events.on_block(self._on_block)
        future = self._waiting.get(tx_hash)
        if future is None or future.done():
            future = self._waiting[tx_hash] = asyncio.get_running_loop().create_future()
        return self._bounded(future)

    @staticmethod
    async def _bounded(future: asyncio.Future[None]) -> None:
        with contextlib.suppress(TimeoutError):  # still pending: answer as without automining
            await asyncio.wait_for(asyncio.shield(future), INCLUSION_TIMEOUT)

    def _on_block(self, new: NewBlock) -> None:
        waiting = self._waiting
        for tx in new.block.transactions:
            future = waiting.pop(tx.hash, None)
            if future is not None and not future.done():
                future.set_result(None)
        for tx_hash in [h for h in waiting if not self._pooled(h)]:
            future = waiting.pop(tx_hash)
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Stop listening and release every waiting send."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for future in self._waiting.values():
            if not future.done():
                future.set_result(None)
        self._waiting.clear()


async def settle(waits: list[Awaitable[None]]) -> None:
    """Wait for a batch's sends (see :data:`BATCH_INCLUSIONS`)."""
    if waits:
        await asyncio.gather(*waits)


__all__ = ["BATCH_INCLUSIONS", "INCLUSION_TIMEOUT", "Inclusions", "settle"]
