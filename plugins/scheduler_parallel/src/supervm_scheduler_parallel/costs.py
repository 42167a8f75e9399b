"""``supervm bench parallel --costs``: what moving a call between processes costs, and the
speedup those costs allow at best.

Every step a speculative call needs besides its execution is timed on its own, in this process,
with the scheduler's own functions and wire formats: pickling the call, recording its reads,
pickling its results, validating and applying them, publishing the writes of the calls the
scheduling process ran itself. No socket, no scheduling logic and no conflicts are included, so
the speedup worked out from these costs (:func:`ceiling`) is an upper bound for this design:
a real block also pays for messages, bookkeeping and re-executions.
"""

from __future__ import annotations

import gc
import pickle
import time
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import attrs
from supervm import Call, StateOverlay, Storage
from supervm.execution.interfaces import Executor

from . import worker
from .rwset import ConflictDetector

#: Steps timed per call, in the order printed: (who pays, step).
WORKER_HANDED = "worker, per call it executes"
MAIN_HANDED = "scheduling process, per call a worker executes"
MAIN_OWN = "scheduling process, per call it executes itself"
WORKER_OTHER = "worker, per call it did not execute"


@attrs.frozen
class TransferCosts:
    """Per-call costs in microseconds, measured side by side in one run.

    :param execute: executing a call in the serial scheduler.
    :param tail: the block's serial end, per call: the commit and the collector's catch-up.
    :param steps: ``(who pays, step, microseconds)`` for every step a speculative call adds.
    """

    execute: float
    tail: float
    steps: tuple[tuple[str, str, float], ...]

    def total(self, who: str) -> float:
        """What one party pays per call, summed over its steps."""
        return sum(us for payer, _step, us in self.steps if payer == who)


def ceiling(costs: TransferCosts, workers: int) -> tuple[float, float]:
    """The speedup over serial these costs allow with ``workers`` workers, and the share of
    calls the workers then execute.

    The scheduling process executes a share ``1 - f`` of the calls itself (paying
    :data:`MAIN_OWN` on each) and receives the rest (:data:`MAIN_HANDED`); each worker executes
    ``f / workers`` of them (:data:`WORKER_HANDED`) and applies the others' writes
    (:data:`WORKER_OTHER`). ``f`` is chosen so that the busiest process finishes earliest
    (all together, unless handing calls out does not pay); the serial tail follows. Assumes a
    core per process.
    """
    e, t = costs.execute, costs.tail
    a, b = costs.total(MAIN_OWN), costs.total(MAIN_HANDED)
    c, d = costs.total(WORKER_HANDED), costs.total(WORKER_OTHER)

    def busiest(f: float) -> float:
        main = (1 - f) * (e + a) + f * b
        each_worker = f / workers * (e + c) + (1 - f / workers) * d
        return max(main, each_worker)

    # Both are linear in f: the best split is where they meet, or an end of [0, 1].
    candidates = [0.0, 1.0]
    slopes = (e + a - b) + (e + c - d) / workers
    if slopes > 0:
        candidates.append(min(1.0, max(0.0, (e + a - d) / slopes)))
    share = min(candidates, key=busiest)
    return (e + t) / (busiest(share) + t), share


def measure_costs(
    executor: Executor[Call],
    fresh_storage: Callable[[], Storage],
    calls: Sequence[Call],
    chunk_size: int,
    rounds: int,
) -> TransferCosts:
    """Time every step of moving ``calls`` through the parallel scheduler's wire formats.

    ``fresh_storage`` gives a new copy of the pre-state (serial execution changes it); each
    step keeps its best time over ``rounds`` rounds, as ``timeit`` does.
    """
    n = len(calls)
    chunks = [calls[i : i + chunk_size] for i in range(0, n, chunk_size)]
    best: dict[str, float] = {}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            seconds: dict[str, float] = {}
            storage = fresh_storage()
            gc.collect()
            _serial(executor, storage, calls, seconds)
            storage = fresh_storage()
            gc.collect()
            _transfers(executor, storage, chunks, seconds)
            for name, value in seconds.items():
                best[name] = min(best.get(name, float("inf")), value * 1e6 / n)
    finally:
        if was_enabled:
            gc.enable()
    # Recording is what the worker's execution costs beyond a plain execution, with the
    # results' pickling (timed on its own) taken out. A difference of two long timings, it can
    # come out below zero when noise hits the plain one: then it counts as free, which only
    # raises the ceiling.
    best["record"] = max(0.0, best["chunks"] - best["plain"] - best["pickle results"])
    return TransferCosts(
        execute=best["execute"],
        tail=best["tail"],
        steps=(
            (WORKER_HANDED, "receive the call", best["receive calls"]),
            (WORKER_HANDED, "record reads and writes", best["record"]),
            (WORKER_HANDED, "pickle the results", best["pickle results"]),
            (WORKER_HANDED, "send reads, writes and results", best["send outcome"]),
            (MAIN_HANDED, "send the call", best["send calls"]),
            (MAIN_HANDED, "receive reads, writes and results", best["receive outcome"]),
            (MAIN_HANDED, "validate the reads", best["validate"]),
            (MAIN_HANDED, "apply the writes", best["apply"]),
            (MAIN_HANDED, "unpickle the results", best["unpickle results"]),
            (MAIN_OWN, "publish the writes", best["publish"]),
            (WORKER_OTHER, "apply published writes", best["apply published"]),
        ),
    )


def _serial(
    executor: Executor[Call],
    storage: Storage,
    calls: Sequence[Call],
    seconds: dict[str, float],
) -> None:
    """The serial scheduler's loop, with its end timed apart: the commit, and the young
    generation scan the collector runs once it resumes (what it catches up on)."""
    state = StateOverlay(storage)
    results = []
    start = time.perf_counter()
    for call in calls:
        state.reset_tracking()
        results.append(executor(call, state))
    executed = time.perf_counter()
    state.commit()
    gc.collect(0)  # the results are alive, as they are when a scheduler returns them
    seconds["execute"] = executed - start
    seconds["tail"] = time.perf_counter() - executed


def _transfers(
    executor: Executor[Call],
    storage: Storage,
    chunks: list[Sequence[Call]],
    seconds: dict[str, float],
) -> None:
    """Every chunk through each step in turn, as :mod:`.worker` and :mod:`.scheduler` do it."""

    def timed(name: str, step: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = step()
        seconds[name] = time.perf_counter() - start
        return out

    protocol = pickle.HIGHEST_PROTOCOL
    codes = {0: chunks[0][0].code}  # the benchmark's calls all run one contract

    def plain() -> None:
        state = StateOverlay(storage)
        for chunk in chunks:
            for call in chunk:
                executor(call, state)

    timed("plain", plain)
    sent = timed(
        "send calls",
        lambda: [
            pickle.dumps(("chunk", 1, i, [worker.to_wire(c, 0) for c in chunk]), protocol)
            for i, chunk in enumerate(chunks)
        ],
    )
    timed("receive calls", lambda: [worker.from_wire(pickle.loads(b)[3], codes) for b in sent])
    block_state = StateOverlay(storage)
    executed = timed(
        "chunks", lambda: [worker.execute_chunk(executor, block_state, c) for c in chunks]
    )
    outcomes = [outcome for outcome, _net in executed]
    results = timed("unpickle results", lambda: [pickle.loads(o[0]) for o in outcomes])
    timed("pickle results", lambda: [pickle.dumps(r, protocol) for r in results])
    replies = timed(
        "send outcome",
        lambda: [pickle.dumps(("done", 1, i, o), protocol) for i, o in enumerate(outcomes)],
    )
    received = timed("receive outcome", lambda: [pickle.loads(r)[3] for r in replies])
    state = StateOverlay(storage)
    timed("validate", lambda: [ConflictDetector.stale_keys(o[1], state) for o in received])

    def apply() -> None:
        for outcome in received:
            state.apply(chain.from_iterable(outcome[3]))

    timed("apply", apply)
    nets = [tuple(net.items()) for _outcome, net in executed]
    published = timed("publish", lambda: [pickle.dumps(("writes", 1, [w]), protocol) for w in nets])
    replica = StateOverlay(storage)

    def apply_published() -> None:
        for blob in published:
            for segment in pickle.loads(blob)[2]:
                replica.apply(segment)

    timed("apply published", apply_published)
