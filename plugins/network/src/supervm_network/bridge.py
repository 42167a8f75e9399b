"""Calls between the node's asyncio loop and a trio loop running in another thread.

py-libp2p runs on trio; the node's services run on one asyncio loop. The libp2p host gets a
thread of its own running ``trio.run`` (so a slow block import or a busy JSON-RPC server never
stalls the network's keep-alives, and back), and the two loops call each other here:

- :meth:`TrioBridge.to_trio` (from asyncio): start ``fn(*args)`` as a task in the trio loop's
  nursery and await its result; cancelling the awaiting asyncio task cancels the trio task;
- :meth:`TrioBridge.to_asyncio` (from trio): run a coroutine in the asyncio loop and await its
  result without blocking the trio loop; cancelling the trio task cancels the coroutine.

Neither side ever blocks on the other: results travel by ``call_soon_threadsafe`` and
``TrioToken.run_sync_soon``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import trio

T = TypeVar("T")


class BridgeClosed(RuntimeError):
    """The trio loop is not running (not started yet, or stopped)."""


def _settle(
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
    cancelled: bool = True,
) -> None:
    """Complete ``future`` with ``error``, else cancel it if ``cancelled``, else with ``result``."""
    if future.done():
        return  # the awaiting task was cancelled meanwhile
    if error is not None:
        future.set_exception(error)
    elif cancelled:
        future.cancel()
    else:
        future.set_result(result)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _as_coroutine(awaitable: Awaitable[T]) -> Coroutine[Any, Any, T]:
    if isinstance(awaitable, Coroutine):
        return awaitable
    return _await(awaitable)


class TrioBridge:
    """Both directions between ``loop`` (asyncio) and one trio run.

    The trio side calls :meth:`attach` once it runs, with a nursery that outlives every call;
    :meth:`detach` when it is about to end.

    :param loop: the node's asyncio loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None

    def attach(self, nursery: trio.Nursery) -> None:
        """Accept calls into the trio run this is called from, as tasks of ``nursery``."""
        self._token = trio.lowlevel.current_trio_token()
        self._nursery = nursery

    def detach(self) -> None:
        """Refuse further calls into trio."""
        self._token = None
        self._nursery = None

    @property
    def attached(self) -> bool:
        """Whether the trio side accepts calls."""
        return self._token is not None

    async def to_trio(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """From asyncio: ``await fn(*args)`` in the trio loop.

        :raises BridgeClosed: if the trio loop does not run.
        """
        token, nursery = self._token, self._nursery
        if token is None or nursery is None:
            raise BridgeClosed("the network's trio loop is not running")
        future: asyncio.Future[T] = self.loop.create_future()
        scope = trio.CancelScope()

        async def run() -> None:
            with scope:
                try:
                    result = await fn(*args)
                except trio.Cancelled:
                    self._call_asyncio(_settle, future, None, None)
                    raise
                except BaseException as exc:  # the caller's to handle
                    self._call_asyncio(_settle, future, None, exc)
                    return
                self._call_asyncio(_settle, future, result, None, False)
                return
            self._call_asyncio(_settle, future, None, None)  # cancelled by the caller

        def start() -> None:
            if self._nursery is None:
                self._call_asyncio(_settle, future, None, BridgeClosed("the trio loop stopped"))
                return
            self._nursery.start_soon(run)

        try:
            token.run_sync_soon(start)
        except trio.RunFinishedError:
            raise BridgeClosed("the network's trio loop has stopped") from None
        try:
            return await future
        except asyncio.CancelledError:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(scope.cancel)
            raise

    async def to_asyncio(self, awaitable: Awaitable[T]) -> T:
        """From trio: await ``awaitable`` (a coroutine) in the asyncio loop and return its
        result."""
        token = trio.lowlevel.current_trio_token()
        coroutine = _as_coroutine(awaitable)
        try:
            done = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:  # the asyncio loop is closed
            coroutine.close()
            raise BridgeClosed("the node's event loop is closed") from None
        event = trio.Event()

        def wake(_: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(event.set)

        done.add_done_callback(wake)
        try:
            await event.wait()
        except trio.Cancelled:
            done.cancel()
            raise
        return done.result()

    def _call_asyncio(self, fn: Callable[..., None], *args: Any) -> None:
        # A closed asyncio loop raises RuntimeError: nobody awaits the answer any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)
