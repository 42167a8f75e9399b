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
- ``("writes", block, changes)``: writes of the block's calls validated so far, so that later
  chunks see them (the multi-version view of earlier transactions' writes);
- ``("code", code_id, code)``: remember a contract's code under a small number;
- ``("chunk", block, start, calls)``: execute ``calls`` (block indices ``start...``), each
  sent as ``(code_id, entry, args, input, context, vm)``;
- ``("stop",)``.

The first message is ``("init", vm_settings)``. Replies: ``("hello", fingerprint)`` once,
then ``("done", block, start, outcomes)`` per chunk, where each outcome is
``(result, reads, ranges, writes)`` (the parts of a :class:`ReadWriteSet`), or
``("error", block, start, message)``.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from supervm import Call, ExecutionResult, Kernel, StateOverlay, VMSettings
from supervm_storage_memory import MemoryStorage

from .rwset import RecordingView

#: (result, reads with values seen, ranges iterated, net writes): plain tuples travel fastest.
Outcome = tuple[ExecutionResult, tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]
#: A call on the wire: (code id, entry, args, input, context, vm).
WireCall = tuple[int, str, tuple[int, ...], bytes, Any, str]


def fingerprint(kernel: Kernel, settings: VMSettings | None) -> tuple[Any, ...]:
    """What must be equal in the scheduler and its workers for their executions to agree."""
    return (
        tuple(sorted(kernel.plugins.enabled_names())),
        tuple(sorted(f.qualified_name for f in kernel.host_functions())),
        tuple(kernel.vms.names()),
        repr(settings),
    )


def execute_chunk(executor: Any, replica: MemoryStorage, calls: Sequence[Call]) -> list[Outcome]:
    """Execute ``calls`` in order on a private overlay of ``replica``, recording reads."""
    chunk = StateOverlay(replica)
    outcomes: list[Outcome] = []
    for call in calls:
        view = RecordingView(chunk)
        state = StateOverlay(view)
        result = executor(call, state)
        changes = tuple(state.changes().items())
        chunk.apply(changes)
        outcomes.append((result, tuple(view.observed.items()), tuple(view.ranges), changes))
    return outcomes


def main(conn: Connection) -> None:
    """The worker's loop; returns on ``stop`` or when the scheduler goes away."""
    _init, settings = conn.recv()
    kernel = Kernel.from_plugins()
    executor = kernel.executor(settings)
    replica = MemoryStorage()
    block, block_state = -1, StateOverlay(replica)
    codes: dict[int, bytes] = {}
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
                gc.collect(1)  # the young generations, between blocks (see below)
            if kind == "code":
                codes[message[1]] = message[2]
            elif kind == "writes":
                block_state.apply(message[2])
            elif kind == "chunk":
                _, _block, start, wire = message
                try:
                    calls = [Call(codes[c], e, a, i, ctx, vm) for c, e, a, i, ctx, vm in wire]
                    outcomes = execute_chunk(executor, block_state, calls)
                    conn.send(("done", block, start, outcomes))
                except Exception:  # reported, and the scheduler executes the chunk itself
                    conn.send(("error", block, start, traceback.format_exc(limit=5)))
    finally:
        kernel.close()
