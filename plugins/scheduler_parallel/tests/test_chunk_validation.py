"""Validation of a worker's chunk, and the worker's message loop, without worker processes."""

from __future__ import annotations

import gc
import socket
import threading
from multiprocessing.connection import Connection

from supervm import Call, StateOverlay
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.state.keys import storage_key
from supervm_scheduler_parallel import ParallelScheduler
from supervm_scheduler_parallel.scheduler import _BlockRun, _decoded
from supervm_scheduler_parallel.worker import execute_chunk, main


def _k(sample: Call, n: int) -> bytes:
    """The world-state key of the bank's balance ``k[n]`` (the contract ``sample`` calls)."""
    return storage_key(sample.context.address, b"k" + bytes([n]))


def test_a_stale_chunk_keeps_the_calls_that_saw_the_serial_state(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    executor = kernel.executor()
    prior = call(bank, 1, 1, 0, 7)  # k[1] = 7, before the chunk
    chunk = [
        call(bank, 0, 1, 2, 5),  # reads k[1]: stale in the speculation
        call(bank, 0, 3, 4, 5),  # independent: kept
        call(bank, 0, 2, 5, 5),  # reads k[2], which the stale call wrote: re-executed
        call(bank, 2, 6, 0, 0),  # independent: kept
    ]
    serial_storage = kernel.open_storage("memory")
    expected = SerialScheduler().execute_block([prior, *chunk], serial_storage, executor)

    storage = kernel.open_storage("memory")
    # The worker's speculation: the chunk on the pre-state, without the prior call's write.
    outcome, _net = execute_chunk(executor, StateOverlay(storage), chunk)
    run = _BlockRun(ParallelScheduler(), [prior, *chunk], executor, StateOverlay(storage))
    results = run._run_own([prior])
    run._validate(1, chunk, outcome, None, results)  # type: ignore[arg-type]

    assert _decoded(results) == list(expected.results)
    assert run.reexecutions == 2 and run.checked == 4
    run.state.commit()
    assert dict(storage.iterate()) == dict(serial_storage.iterate())


def test_a_fresh_chunk_is_accepted_whole(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    executor = kernel.executor()
    calls = [call(bank, 0, 1, 2, 5), call(bank, 0, 2, 1, 3), call(bank, 6, 3, 0, 9)]
    expected = SerialScheduler().execute_block(calls, kernel.open_storage("memory"), executor)
    storage = kernel.open_storage("memory")
    outcome, net = execute_chunk(executor, StateOverlay(storage), calls)
    run = _BlockRun(ParallelScheduler(), calls, executor, StateOverlay(storage))
    results: list = []  # type: ignore[type-arg]
    run._validate(0, calls, outcome, None, results)  # type: ignore[arg-type]
    assert _decoded(results) == list(expected.results)
    assert run.reexecutions == 0
    # Reads are recorded once per chunk, from outside it: the second call read what the
    # first wrote, and the credit to k[3] read nothing.
    assert [k for k, _ in outcome[1]] == [_k(calls[0], 1), _k(calls[0], 2)]
    assert set(net) == {_k(calls[0], n) for n in (1, 2, 3)}


def test_the_worker_applies_its_own_accepted_chunk_by_reference(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    # The worker loop pauses the cyclic collector for its process: give it back afterwards.
    collecting = gc.isenabled()
    ours, theirs = socket.socketpair()
    conn, worker_conn = Connection(ours.detach()), Connection(theirs.detach())
    loop = threading.Thread(target=main, args=(worker_conn,))
    loop.start()
    try:
        conn.send(("init", None))
        assert conn.recv()[0] == "hello"
        conn.send(("full", []))
        conn.send(("code", 0, bank))

        def wire(c):  # type: ignore[no-untyped-def]
            return (0, c.entry, c.args, c.input, c.context, c.vm)

        first = call(bank, 1, 1, 0, 7)
        conn.send(("chunk", 1, 0, [wire(first)]))
        assert conn.recv()[:3] == ("done", 1, 0)
        # Chunk 0 was accepted whole: only its key travels, the worker kept its writes.
        conn.send(("writes", 1, [0, ((_k(first, 2), (9).to_bytes(8, "little")),)]))
        conn.send(("chunk", 1, 1, [wire(call(bank, 0, 1, 2, 5))]))
        kind, _block, key, outcome = conn.recv()
        assert (kind, key) == ("done", 1)
        reads = dict(outcome[1])
        assert reads[_k(first, 1)] == (7).to_bytes(8, "little")  # its own chunk's write
        assert reads[_k(first, 2)] == (9).to_bytes(8, "little")  # a write sent by value
    finally:
        conn.send(("stop",))
        loop.join(timeout=60)
        conn.close()
        gc.unfreeze()
        if collecting:
            gc.enable()
        gc.collect()
    assert not loop.is_alive()
