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
  ``(code_id, entry, args, input, context, vm)``;
- ``("stop",)``.

The first message is ``("init", vm_settings)``. Replies: ``("hello", fingerprint)`` once,
then ``("done", block, key, outcome)`` per chunk (a :data:`ChunkOutcome`), or
``("error", block, key, message)``.
"""

from __future__ import annotations

import gc
import pickle
import traceback
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from supervm import Call, ExecutionResult, Kernel, StateOverlay, VMSettings
from supervm_storage_memory import MemoryStorage

from .rwset import RecordingView

#: A chunk's outcome: each call's result (a pickled list: the scheduler unpickles it when it
#: has time), the values the chunk read from outside itself (each key once, with the value it
#: first saw), the ranges it iterated, and each call's net writes. Plain tuples travel fastest.
ChunkOutcome = tuple[bytes, tuple[tuple[bytes, bytes | None], ...], tuple[Any, ...], list[Any]]
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
    executor: Any, block_state: StateOverlay, calls: Sequence[Call]
) -> tuple[ChunkOutcome, dict[bytes, Any]]:
    """Execute ``calls`` in order on a private overlay of ``block_state``, recording reads.

    Reads are recorded once per chunk, below the chunk's own writes: what a call read from an
    earlier call of the chunk is not an outside read. Each call runs in a snapshot of the chunk
    so that its own net writes are known without looking them up again. Returns the outcome
    and the chunk's net changes (what the worker applies if the chunk is accepted whole).
    """
    view = RecordingView(block_state)
    chunk = StateOverlay(view)
    results: list[ExecutionResult] = []
    writes: list[tuple[Any, ...]] = []
    for call in calls:
        chunk.snapshot()
        results.append(executor(call, chunk))
        writes.append(tuple(chunk.commit_snapshot().items()))
    encoded = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    return (encoded, tuple(view.observed.items()), tuple(view.ranges), writes), chunk.changes()


def main(conn: Connection) -> None:
    """The worker's loop; returns on ``stop`` or when the scheduler goes away."""
    _init, settings = conn.recv()
    kernel = Kernel.from_plugins()
    executor = kernel.executor(settings)
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
            elif kind in ("writes", "chunk") and message[1] != block:
                block, block_state = message[1], StateOverlay(replica)
                mine.clear()
                gc.collect(1)  # the young generations, between blocks (see below)
            if kind == "code":
                codes[message[1]] = message[2]
            elif kind == "writes":
                for segment in message[2]:
                    block_state.apply(
                        mine.pop(segment).items() if type(segment) is int else segment
                    )
            elif kind == "chunk":
                _, _block, key, wire = message
                try:
                    calls = from_wire(wire, codes)
                    outcome, mine[key] = execute_chunk(executor, block_state, calls)
                    conn.send(("done", block, key, outcome))
                except Exception:  # reported, and the scheduler executes the chunk itself
                    conn.send(("error", block, key, traceback.format_exc(limit=5)))
    finally:
        kernel.close()
