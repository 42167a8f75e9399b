"""Recovering the senders of a batch of raw transactions in a worker process, ahead of them.

Recovering a sender costs about 50 µs of libsecp256k1 that holds the GIL, the biggest single
cost of ``eth_sendRawTransaction``. When a batch carries many raw transactions, the dispatcher
hands their encodings to one worker process first (while the event loop keeps serving and the
chain's writer thread keeps sealing), then decodes each in the loop with the sender the worker
found, so the node's own process never recovers them. Small batches are not worth the trip.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from typing import Any, Final

from supervm.chain.senders import recover_encoded

#: Batches with fewer raw transactions than this recover them in the loop, as single calls do.
PREFETCH_THRESHOLD: Final = 32

#: The senders recovered ahead for the batch being answered, by the hex text of the encoding.
KNOWN_SENDERS: Final = ContextVar[dict[str, bytes] | None]("supervm_rpc_senders", default=None)


def raw_transactions(calls: Sequence[Any]) -> list[str]:
    """The ``0x``-hex arguments of the batch's well-formed ``eth_sendRawTransaction`` calls."""
    found = []
    for call in calls:
        if type(call) is dict and call.get("method") == "eth_sendRawTransaction":
            params = call.get("params")
            if type(params) is list and len(params) == 1 and type(params[0]) is str:
                text = params[0]
                if text.startswith("0x"):
                    found.append(text)
    return found


class SenderPrefetch:
    """One worker process, started on first use, that recovers batches' senders."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def senders(self, encodings: list[str]) -> dict[str, bytes]:
        """The senders of ``encodings`` that decode and recover, by encoding."""
        if self._pool is None:
            # forkserver: safe beside the writer thread and aiohttp's (fork is not).
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(1, mp_context=context)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self._pool, recover_encoded, encodings)
        return {text: sender for text, sender in zip(encodings, found, strict=True) if sender}

    def close(self) -> None:
        """Stop the worker, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
