"""The worker process: a replica of the state and a speculative executor.

A worker is a plain ``python -m supervm_scheduler_parallel.worker_process FD`` process talking
over a socket (not :mod:`multiprocessing`'s spawn, which would re-run the embedding program's
main module). It builds its own kernel (its own wasmtime engine and module cache) from the installed
plugins, keeps a replica of the block's pre-state that the scheduler keeps in sync, and
executes chunks of calls in order on that replica: each call sees the writes of the calls
before it in the same chunk, and records what it read for the scheduler to validate.

Messages (scheduler -> worker), in order on one pipe:

- ``("full", items)``: replace the replica with these pairs;
- ``("delta", changes)``: apply the changes the scheduler committed;
- ``("writes", block, segments)``: the writes of the block's calls validated so far, in block
  order, so that later chunks see them (the multi-version view of earlier transactions'
  writes). A segment is a tuple of changes, or the key of a chunk of this worker's that was
  accepted whole: its writes are here already and do not travel back;
- ``("code", code_id, code)``: remember a contract's code under a small number;
- ``("chunk", block, key, calls)``: execute ``calls`` in order, each sent as
  ``(code_id, entry, args, input, context, vm)`` (the fast format of
  :class:`~supervm.model.Call` items);
- ``("executor", blob)``: from now on execute with the executor of a pickled
  ``(ExecutorSpec, state class)`` pair (:class:`~supervm.execution.interfaces.ExecutorSpec`):
  ``spec.rebuild(kernel)``, on states of that class (a transaction block's executor carries
  the block's environment, and runs on a :class:`~supervm.state.world.WorldState`);
- ``("items", block, key, blob)``: execute the pickled list of items (anything but calls:
  signed transactions, say) in order, recording each item's reads (:func:`execute_items`);
- ``("stop",)``.

The first message is ``("init", vm_settings)``; the executor is then the kernel's
:class:`~supervm.model.Call` executor with those settings. Replies: ``("hello", fingerprint)``
once, then ``("done", block, key, outcome)`` per chunk (a :data:`ChunkOutcome`), or
``("error", block, key, message)`` (the scheduling process then executes the chunk itself).
"""

from __future__ import annotations

import gc
import pickle
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from supervm import Call, ExecutionResult, Kernel, StateOverlay, Storage, VMSettings
from supervm.execution.interfaces import Executor
from supervm.state.storage import Change
from supervm_storage_memory import MemoryStorage

from .rwset import RecordingView

#: A chunk's outcome: each call's result (a pickled list: the scheduler unpickles it when it
#: has time), the values the chunk read from outside itself (each key once, with the value it
#: first saw), the ranges it iterated, each call's net writes, and, for items other than
#: calls (whose results carry no read sets), each item's read keys (``None`` for calls).
#: Plain tuples travel fastest.
ChunkOutcome = tuple[
    bytes,
    tuple[tuple[bytes, bytes | None], ...],
    tuple[Any, ...],
    list[Any],
    list[tuple[bytes, ...]] | None,
]
#: A call on the wire: (code id, entry, args, input, context, vm).
WireCall = tuple[int, str, tuple[int, ...], bytes, Any, str]


def to_wire(call: Call, code_id: int) -> WireCall:
    """``call`` as it travels to a worker, its code replaced by the number it was sent under."""
    return (code_id, call.entry, call.args, call.input, call.context, call.vm)


def from_wire(wire: Sequence[WireCall], codes: Mapping[int, bytes]) -> list[Call]:
    """The calls of a ``chunk`` message, their codes looked up by number."""
    return [Call(codes[c], e, a, i, ctx, vm) for c, e, a, i, ctx, vm in wire]


def fingerprint(kernel: Kernel, settings: VMSettings | None) -> tuple[Any, ...]:
    """What must be equal in the scheduler and its workers for their executions to agree."""
    return (
        tuple(sorted(kernel.plugins.enabled_names())),
        tuple(sorted(f.qualified_name for f in kernel.host_functions())),
        tuple(kernel.vms.names()),
        repr(settings),
    )


def execute_chunk(
    executor: Any,
    block_state: StateOverlay,
    calls: Sequence[Call],
    state_class: type[StateOverlay] = StateOverlay,
) -> tuple[ChunkOutcome, dict[bytes, Any]]:
    """Execute ``calls`` in order on a private ``state_class`` overlay of ``block_state``,
    recording reads.

    Reads are recorded once per chunk, below the chunk's own writes: what a call read from an
    earlier call of the chunk is not an outside read. Each call runs in a snapshot of the chunk
    so that its own net writes are known without looking them up again. Returns the outcome
    and the chunk's net changes (what the worker applies if the chunk is accepted whole).
    """
    view = RecordingView(block_state)
    chunk = state_class(view)
    results: list[ExecutionResult] = []
    writes: list[tuple[Any, ...]] = []
    for call in calls:
        chunk.snapshot()
        results.append(executor(call, chunk))
        writes.append(tuple(chunk.commit_snapshot().items()))
    encoded = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    outcome = (encoded, tuple(view.observed.items()), tuple(view.ranges), writes, None)
    return outcome, chunk.changes()


class ItemView(Storage):
    """What one item sees below its own writes: the chunk's state, every key it looks at noted.

    A call's result names the keys it read (its ``read_set``); other items' results need not
    (a transaction's does not), and an executor may look at keys without recording a read
    (``StateOverlay.peek``). So each item runs on a fresh overlay of this view, and every key
    whose value reaches the item from outside its own writes, however it was asked for, lands
    in :attr:`keys`: the item's read set for validation.
    """

    __slots__ = ("_chunk", "keys")

    def __init__(self, chunk: StateOverlay) -> None:
        self._chunk = chunk
        self.keys: set[bytes] = set()

    def get(self, key: bytes) -> bytes | None:
        self.keys.add(key)
        return self._chunk.peek(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        items = tuple(self._chunk.iterate(start, end, reverse=reverse))
        self.keys.update(key for key, _ in items)
        return iter(items)

    def write_batch(self, changes: Iterable[Change]) -> None:
        raise RuntimeError("an item view is read-only")


def execute_items(
    executor: Executor[Any],
    block_state: StateOverlay,
    items: Sequence[Any],
    state_class: type[StateOverlay] = StateOverlay,
) -> tuple[ChunkOutcome, dict[bytes, Any]]:
    """:func:`execute_chunk` for items other than calls, also recording each item's reads.

    Each item runs on a fresh ``state_class`` overlay of an :class:`ItemView` of the chunk
    (what the serial scheduler gives an item: the state so far, with fresh read and write
    tracking); its net changes are then folded into the chunk. The chunk's outside reads and
    ranges are recorded below, as for calls.
    """
    view = RecordingView(block_state)
    chunk = StateOverlay(view)
    results: list[ExecutionResult] = []
    writes: list[tuple[Any, ...]] = []
    reads: list[tuple[bytes, ...]] = []
    for item in items:
        seen = ItemView(chunk)
        state = state_class(seen)
        results.append(executor(item, state))
        changes = tuple(state.changes().items())
        chunk.apply(changes)
        writes.append(changes)
        reads.append(tuple(seen.keys))
    encoded = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    outcome = (encoded, tuple(view.observed.items()), tuple(view.ranges), writes, reads)
    return outcome, chunk.changes()


def main(conn: Connection) -> None:
    """The worker's loop; returns on ``stop`` or when the scheduler goes away."""
    _init, settings = conn.recv()
    kernel = Kernel.from_plugins()
    executor: Executor[Any] = kernel.executor(settings)
    state_class: type[StateOverlay] = StateOverlay
    broken: str | None = None  # why the last executor spec could not be loaded
    replica = MemoryStorage()
    block, block_state = -1, StateOverlay(replica)
    codes: dict[int, bytes] = {}
    #: This block's chunks' net changes, until the scheduler says which to apply.
    mine: dict[int, dict[bytes, Any]] = {}
    # Chunks allocate many short-lived objects; generation scans would cost more than the
    # contracts. Collect the young generations once per block instead (above).
    gc.disable()
    conn.send(("hello", fingerprint(kernel, settings)))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            kind = message[0]
            if kind == "stop":
                return
            if kind == "full":
                replica = MemoryStorage()
                replica.write_batch(message[1])
                block, block_state = -1, StateOverlay(replica)
                gc.collect()
                gc.freeze()  # the replica lives on: keep it out of every later collection
            elif kind == "delta":
                replica.write_batch(message[1])
                block, block_state = -1, StateOverlay(replica)
            elif kind in ("writes", "chunk", "items") and message[1] != block:
                block, block_state = message[1], StateOverlay(replica)
                mine.clear()
                gc.collect(1)  # the young generations, between blocks (see below)
            if kind == "code":
                codes[message[1]] = message[2]
            elif kind == "executor":
                try:
                    spec, state_class = pickle.loads(message[1])
                    executor, broken = spec.rebuild(kernel), None
                except Exception:  # every chunk is reported, and run by the scheduler
                    broken = traceback.format_exc(limit=5)
            elif kind == "writes":
                for segment in message[2]:
                    block_state.apply(
                        mine.pop(segment).items() if type(segment) is int else segment
                    )
            elif kind == "chunk":
                _, _block, key, wire = message
                try:
                    if broken is not None:
                        raise RuntimeError(f"the executor could not be rebuilt here:\n{broken}")
                    calls = from_wire(wire, codes)
                    outcome, mine[key] = execute_chunk(executor, block_state, calls, state_class)
                    conn.send(("done", block, key, outcome))
                except Exception:  # reported, and the scheduler executes the chunk itself
                    conn.send(("error", block, key, traceback.format_exc(limit=5)))
            elif kind == "items":
                _, _block, key, blob = message
                try:
                    if broken is not None:
                        raise RuntimeError(f"the executor could not be rebuilt here:\n{broken}")
                    items = pickle.loads(blob)
                    outcome, mine[key] = execute_items(executor, block_state, items, state_class)
                    conn.send(("done", block, key, outcome))
                except Exception:
                    conn.send(("error", block, key, traceback.format_exc(limit=5)))
    finally:
        kernel.close()
