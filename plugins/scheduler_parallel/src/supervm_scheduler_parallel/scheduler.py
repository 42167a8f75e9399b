"""The parallel scheduler: optimistic execution in worker processes, validation in block order.

How a block runs (see ``docs/parallel.md``):

1. Worker processes (started once, reused across blocks) hold replicas of the pre-state, kept
   in sync by shipping each committed block's changes.
2. The block is cut into chunks. Each worker is handed chunks as it finishes the previous ones
   (idle workers take the next chunk, so none waits while work remains), and executes a chunk
   in order, each call seeing the writes of the calls before it in the same chunk; the values
   the chunk read from outside itself are recorded.
3. The scheduler walks the block in order, executing its own share of chunks itself. A worker's
   chunk is accepted whole when every outside value it read equals the block state at that
   point (:class:`ConflictDetector`); otherwise the calls that read a stale value, or a value a
   rejected call wrote, are re-executed here on the block state, which is exactly what the
   serial scheduler does, and the others are kept. Too many re-executions switch the rest of
   the block to serial.
4. The block is committed in one batch.

Items other than :class:`~supervm.model.Call` records (signed transactions, executed by
:class:`~supervm.chain.processor.TransactionExecutor`) run the same way when the executor can
be rebuilt in a worker (``executor.spec()``, see
:class:`~supervm.execution.interfaces.Executor`): the spec and the block state's class travel
once per change, the items pickled per chunk, and workers record each item's read keys, since
such results carry no read set (:func:`~.worker.execute_items`).

Whatever the conflicts, crashes or stale replicas, the committed state and every result equal
the serial scheduler's: a result is only ever accepted when its inputs were the serial inputs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from itertools import chain
from multiprocessing.connection import Connection, wait
from typing import Any

import attrs
from supervm import BlockResult, Call, ExecutionResult, Scheduler, SchedulerSettings, StateOverlay
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.execution.executor import CallExecutor
from supervm.execution.interfaces import Executor, ExecutorSpec
from supervm.execution.snapshot import gc_paused
from supervm.state.overlay import AddU256, Pending
from supervm.state.storage import Change, Storage

from . import worker
from .graph import DependencyGraph
from .native import native_backend, run_native
from .rwset import ConflictDetector

log = logging.getLogger("supervm.parallel")

#: Calls per chunk handed to a worker.
DEFAULT_CHUNK = 32
#: Chunks queued at each worker, so that none waits for the scheduler between chunks.
DEFAULT_PREFETCH = 3
#: The share of chunks the scheduling process executes itself, with one worker.
DEFAULT_OWN_SHARE = 0.45
#: How far ahead of the scheduling process workers may run, in rounds of chunks.
DEFAULT_LOOKAHEAD = 4
#: Above this share of rejected speculative calls, workers are kept half as far ahead.
CONTENDED = 0.05
#: Above this share of re-executed calls, the rest of the block runs serially.
DEFAULT_MAX_REEXECUTIONS = 0.5
#: After a hot-spot block, blocks run serially; every this many, speculation is tried again.
PROBE_EVERY = 8
#: Blocks smaller than this many chunks run serially: there is nothing to overlap.
MIN_CHUNKS = 2
START_TIMEOUT = 120.0
#: Blocks whose statistics are kept (``ParallelScheduler.stats``): a node runs for months.
STATS_KEPT = 1024
_LOST = None  # a chunk whose worker died or failed: the scheduling process executes it

#: What a worker executes with: an executor spec, and the class of the block state (its
#: chunks run on overlays of that class: a transaction needs a ``WorldState``).
ExecutorKey = tuple[ExecutorSpec, type[StateOverlay]]


def _calls_key(settings: Any) -> ExecutorKey:
    """What a new worker executes with: ``kernel.executor(settings)``, on plain overlays."""
    return ExecutorSpec(CallExecutor, (settings,)), StateOverlay


def executor_key(executor: Executor[Any], state: StateOverlay, calls: bool) -> ExecutorKey | None:
    """How workers rebuild ``executor`` for a block on ``state``; ``None`` if they cannot.

    An executor with ``spec()`` says so itself. Without one, calls run on the kernel's call
    executor with the same settings (as they always have); other items cannot be rebuilt.
    """
    spec = getattr(executor, "spec", None)
    if spec is not None:
        made = spec()
        if isinstance(made, ExecutorSpec):
            return made, type(state)
    return (_calls_key(executor.settings)[0], type(state)) if calls else None


def _executor_message(key: ExecutorKey) -> tuple[str, bytes] | None:
    """The message that gives workers ``key``'s executor; ``None`` if it does not pickle."""
    try:
        return "executor", pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a local class or function, a lambda: nothing a worker can load
        log.warning("parallel scheduler runs a block serially: its executor spec: %s", exc)
        return None


@attrs.frozen
class BlockStats:
    """What the scheduler did for one block.

    :param transactions: calls in the block.
    :param executions: executions in total (speculative, re-executed and serial).
    :param reexecutions: calls executed again here because their speculative reads were stale.
    :param validation_failures: speculative results rejected by validation.
    :param fallbacks: calls executed serially here without a speculative attempt (after the
        re-execution bound was hit, for chunks a crashed worker lost, or for a serial block).
    :param own: calls the scheduling process executed in order itself (chunks no worker had
        taken yet when it reached them).
    :param waves: waves run from declared access lists (0: the block was run speculatively).
    :param worker_failures: workers that died or failed during the block.
    :param workers: worker processes used.
    :param chunks: chunks handed out.
    :param wall_time: seconds from start to commit.
    :param engine: ``native`` when the block ran on the native block executor's threads
        (``workers`` then counts its threads), ``python`` otherwise.
    :param misses: native blocks: keys read from the state during the block.
    """

    transactions: int
    executions: int
    reexecutions: int
    validation_failures: int
    fallbacks: int
    own: int
    waves: int
    worker_failures: int
    workers: int
    chunks: int
    wall_time: float
    engine: str = "python"
    misses: int = 0


@attrs.define
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    synced: tuple[int, int] | None = None
    inflight: list[int] = attrs.field(factory=list)
    alive: bool = True
    codes: set[int] = attrs.field(factory=set)
    #: What the worker executes with now (:data:`ExecutorKey`).
    executor: ExecutorKey | None = None


class ParallelScheduler(Scheduler):
    """Executes a block on worker processes with the exact result of the serial scheduler."""

    def __init__(self, settings: SchedulerSettings | None = None) -> None:
        self.settings = settings or SchedulerSettings()
        options = self.settings.options
        # The scheduling process executes as well, so one core is left for it by default.
        cores = os.cpu_count() or 2
        self.workers = self.settings.workers or max(1, cores - 1)
        if self.workers + 1 > cores:
            # Measured: 2 workers on 2 cores ran 1,000-account blocks at half the serial speed.
            log.warning(
                "%d workers and the scheduling process share %d cores: expect less than serial "
                "speed (the default is one worker fewer than the cores)",
                self.workers, cores,
            )  # fmt: skip
        self.chunk_size = max(1, int(options.get("chunk_size", DEFAULT_CHUNK)))
        self.max_reexecutions = float(options.get("max_reexecutions", DEFAULT_MAX_REEXECUTIONS))
        self.prefetch = max(1, int(options.get("prefetch", DEFAULT_PREFETCH)))
        self.lookahead = max(1, int(options.get("lookahead", DEFAULT_LOOKAHEAD)))
        self.own_share = float(options.get("own_share", DEFAULT_OWN_SHARE))
        #: ``auto``: blocks that can run on the native block executor do; ``off``: never.
        self.native = str(options.get("native", "auto"))
        if self.native not in ("auto", "off"):
            raise ValueError(f"option 'native' must be auto or off, got {self.native!r}")
        #: Threads of the native block executor (the scheduling thread among them).
        self.native_threads = max(1, int(options.get("native_threads", cores)))
        self._pool: list[_Worker] = []
        self._pool_key: tuple[Any, ...] | None = None
        self._disabled: str | None = None
        self._epoch = 0
        self._storage_ref: Callable[[], Storage | None] | None = None
        self._storage_count = 0
        #: What replicas one epoch behind lack: the last block's changes (a list), or, after
        #: serial blocks the workers did not see, those of several blocks (a dict).
        self._last_changes: list[Change] | dict[bytes, bytes | None] | None = None
        self._block = 0
        self._hot_streak = 0
        self._code_ids: dict[bytes, int] = {}
        #: The most recent blocks' statistics, oldest first (option ``stats_kept`` of them).
        self.stats: deque[BlockStats] = deque(
            maxlen=max(1, int(options.get("stats_kept", STATS_KEPT)))
        )

    # -- pool ----------------------------------------------------------------------------------

    def _ensure_pool(self, executor: Executor[Any]) -> bool:
        """Start (or restart) the workers; ``False`` if this executor cannot be parallelised."""
        expected = worker.fingerprint(executor.kernel, executor.settings)
        if self._pool_key is not None and self._pool_key != expected:
            self._stop_pool()  # a different kernel or VM settings: new workers
        self._pool_key = expected
        self._pool = [w for w in self._pool if w.alive and w.process.poll() is None]
        while len(self._pool) < self.workers:
            parent_sock, child_sock = socket.socketpair()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "supervm_scheduler_parallel.worker_process",
                    str(child_sock.fileno()),
                ],
                pass_fds=[child_sock.fileno()],
            )
            child_sock.close()
            parent = Connection(parent_sock.detach())
            parent.send(("init", executor.settings))
            if not parent.poll(START_TIMEOUT):
                process.kill()
                raise RuntimeError("a parallel-scheduler worker did not start")
            try:
                _hello, theirs = parent.recv()
            except EOFError:
                raise RuntimeError("a parallel-scheduler worker exited at start") from None
            if theirs != expected:
                # Workers load the installed plugins; an in-process plugin or another VM
                # configuration would make them execute differently: run serially instead.
                process.kill()
                self._disabled = "the workers' plugins differ from the kernel's"
                log.warning("parallel scheduler runs serially: %s", self._disabled)
                self._stop_pool()
                return False
            self._pool.append(_Worker(process, parent, executor=_calls_key(executor.settings)))
        return True

    def _stop_pool(self) -> None:
        for w in self._pool:
            if w.alive and w.process.poll() is None:
                with contextlib.suppress(OSError):
                    w.conn.send(("stop",))
        for w in self._pool:
            try:
                w.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait()
            w.conn.close()
        self._pool = []

    def close(self) -> None:
        """Stop the workers."""
        self._settle()
        self._stop_pool()
        self._pool_key = None

    # -- replicas ------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Read and drop replies to chunks of earlier blocks (abandoned when they were final)."""
        for w in self._pool:
            while w.alive and w.inflight:
                try:
                    if not w.conn.poll(START_TIMEOUT):
                        raise EOFError
                    message = w.conn.recv()
                except (EOFError, OSError):
                    w.alive = False
                    w.inflight.clear()
                    break
                if message[2] in w.inflight:
                    w.inflight.remove(message[2])

    def _storage_serial(self, storage: Storage) -> int:
        """A number for ``storage``, new whenever the scheduler is given another storage.

        Held through a weak reference, not ``id()``: a new storage may reuse a dead one's
        address, and replicas of the dead one must not pass for its replicas.
        """
        held = self._storage_ref() if self._storage_ref is not None else None
        if held is not storage:
            try:
                self._storage_ref = weakref.ref(storage)
            except TypeError:  # a storage class without weak references: hold it
                self._storage_ref = lambda: storage
            self._storage_count += 1
            self._last_changes = None
            self._epoch += 1  # a storage the replicas never saw: everyone resyncs in full
        return self._storage_count

    def _sync(self, storage: Storage) -> None:
        sid = self._storage_serial(storage)
        want = (sid, self._epoch)
        full: list[Change] | None = None
        for w in self._pool:
            if w.synced == want:
                continue
            if w.synced == (sid, self._epoch - 1) and self._last_changes is not None:
                delta = self._last_changes
                w.conn.send(("delta", list(delta.items()) if type(delta) is dict else delta))
            else:
                if full is None:
                    full = list(storage.iterate())
                w.conn.send(("full", full))
            w.synced = want

    def prepare(self, storage: Storage, executor: Executor[Any]) -> bool:
        """Start the workers and sync their replicas now (benchmarks keep this out of timing).

        Returns whether blocks on this executor will run in parallel.
        """
        if self._disabled is not None or not self._ensure_pool(executor):
            return False
        self._settle()
        self._sync(storage)
        return True

    # -- blocks --------------------------------------------------------------------------------

    def run_block(
        self, items: Sequence[Any], state: StateOverlay, executor: Executor[Any]
    ) -> BlockResult:
        """Execute ``items`` optimistically in parallel on ``state``; see the module doc.

        Workers mirror ``state``'s storage, so a state that already holds buffered changes runs
        serially, and so do items other than :class:`~supervm.model.Call` records when the
        executor has no ``spec()`` to be rebuilt from in the workers.
        """
        started = time.perf_counter()
        n = len(items)
        storage = state.base
        calls_only = all(type(item) is Call for item in items)
        if calls_only and self.native != "off":
            done = self._run_native(items, state, executor, started)
            if done is not None:
                return done
        key = executor_key(executor, state, calls_only)
        message: tuple[str, bytes] | None = None
        # After a block that was one hot spot, speculation would mostly be wasted: run serially,
        # trying speculation again every PROBE_EVERY blocks in case the load changed.
        cooling = self._hot_streak > 0 and self._hot_streak % PROBE_EVERY != 0
        if cooling:
            self._hot_streak += 1
        clean = not state.depth and not state.changes()
        if (
            self._disabled is not None
            or cooling
            or n < MIN_CHUNKS * self.chunk_size
            or not clean
            or key is None
            or (message := _executor_message(key)) is None
            or not self._ensure_pool(executor)
        ):
            result = SerialScheduler().run_block(items, state, executor)
            self._record(BlockStats(n, n, 0, 0, n, 0, 0, 0, 0, 0, time.perf_counter() - started))
            if clean and self._pool:
                self._advance(storage, _net_changes(state), merge=True)
            else:
                self._forget(storage)
            return result
        with gc_paused():
            self._settle()
            self._sync(storage)
            self._block += 1
            assert key is not None and message is not None
            run = _BlockRun(self, items, executor, state, key, calls_only, message)
            results = None
            if calls_only and all(c.access_list is not None for c in items):
                results = run.execute_waves()
                if results is None:  # a call touched keys it did not declare: plan anew
                    self._settle()
                    self._block += 1
                    state.discard()
                    run = _BlockRun(self, items, executor, state, key, calls_only, message)
            if results is None:
                results = run.execute()
            # The caller commits these; the replicas are sent them next block. (Should the caller
            # not commit, replicas lag, and validation, which trusts no replica, re-executes.)
            changes = run.state.resolved_changes()
        self._advance(storage, changes)
        self._hot_streak = self._hot_streak + 1 if run.hot else 0
        self._record(run.stats(time.perf_counter() - started))
        return BlockResult.of(results)

    def _run_native(
        self, items: Sequence[Call], state: StateOverlay, executor: Executor[Any], started: float
    ) -> BlockResult | None:
        """Run the block on the native block executor if it can run there (see native.py)."""
        backend = native_backend(executor, items)
        if backend is None:
            return None
        storage = state.base
        clean = not state.depth and not state.changes()
        run = run_native(backend, items, state, self.native_threads, self.max_reexecutions)
        if run is None:
            return None
        n = len(items)
        if run.results is None:
            # Abandoned before touching the state (the cache full, a failing storage): the
            # serial scheduler meets whatever it was call by call.
            result = SerialScheduler().run_block(items, state, executor)
            self._record(
                BlockStats(n, n, 0, 0, n, 0, 0, 0, 0, 0, time.perf_counter() - started, "native")
            )
        else:
            result = BlockResult.of(run.results)
            s = run.stats
            self._record(
                BlockStats(
                    transactions=n,
                    executions=s.executions,
                    reexecutions=s.reexecutions,
                    validation_failures=s.reexecutions,
                    fallbacks=n - s.serial_from,
                    own=0,
                    waves=0,
                    worker_failures=0,
                    workers=s.threads,
                    chunks=0,
                    wall_time=time.perf_counter() - started,
                    engine="native",
                    misses=s.misses,
                )
            )
        # Worker replicas (should a later block need them) lag by this block's changes.
        if clean and self._pool:
            self._advance(storage, _net_changes(state), merge=True)
        else:
            self._forget(storage)
        return result

    def _advance(
        self,
        storage: Storage,
        changes: list[Change] | dict[bytes, bytes | None],
        *,
        merge: bool = False,
    ) -> None:
        """After a block on a clean state of ``storage`` that changed ``changes``.

        Replicas that held the block's pre-state now lag by exactly ``changes``: they are sent
        those at the next sync, not the whole storage. With ``merge`` (a serial block, before
        which nothing was synced), replicas still one block behind lag by both blocks' changes,
        merged in place (a value written again is harmless to a replica that had it), so that a
        chain's small blocks, which run serially, never cost the next parallel block a full copy
        (a chain's storage holds far more than its state). Should the caller not commit the
        changes, replicas are wrong, which validation, trusting no replica, turns into
        re-executions.
        """
        sid = self._storage_serial(storage)
        current, behind = (sid, self._epoch), (sid, self._epoch - 1)
        keep: tuple[tuple[int, int], ...] = (current,)
        carried = self._last_changes
        if merge and carried is not None and any(w.synced == behind for w in self._pool):
            merged = carried if type(carried) is dict else dict(carried)
            merged.update(changes.items() if type(changes) is dict else changes)
            changes, keep = merged, (current, behind)
        self._epoch += 1
        for w in self._pool:
            w.synced = current if w.synced in keep else None  # lags by ``changes`` now
        self._last_changes = changes

    def _forget(self, storage: Storage) -> None:
        """After a block the workers did not see: their replicas need a full sync."""
        for w in self._pool:
            w.synced = None

    def _record(self, stats: BlockStats) -> None:
        self.stats.append(stats)
        log.info(
            "block: %d calls, %d executions, %d re-executed, %d serial, %d worker failures, "
            "%.1f ms",
            stats.transactions, stats.executions, stats.reexecutions, stats.fallbacks,
            stats.worker_failures, stats.wall_time * 1000,
        )  # fmt: skip

    @property
    def last_stats(self) -> BlockStats | None:
        """Statistics of the most recent block."""
        return self.stats[-1] if self.stats else None


class _Encoded:
    """A worker chunk's results as they arrived, pickled, until someone needs the objects.

    Unpickling thousands of results costs the scheduling process more than validating them;
    it is done while the process would otherwise wait for a worker, and the rest at the end.
    """

    __slots__ = ("_blob", "_results")

    def __init__(self, blob: bytes) -> None:
        self._blob: bytes | None = blob
        self._results: list[ExecutionResult] = []

    def decode(self) -> list[ExecutionResult]:
        if self._blob is not None:
            self._results = pickle.loads(self._blob)
            self._blob = None
        return self._results


def _net_changes(state: StateOverlay) -> dict[bytes, bytes | None]:
    """What committing ``state`` would write, additions worked out (unsorted, unlike
    :meth:`StateOverlay.resolved_changes`: a replica needs no order)."""
    get = state.base.get
    return {
        key: value.onto(get(key)) if type(value) is AddU256 else value  # type: ignore[misc]
        for key, value in state.changes().items()
    }


def _decoded(results: list[ExecutionResult | _Encoded]) -> list[ExecutionResult]:
    out: list[ExecutionResult] = []
    for item in results:
        if type(item) is _Encoded:
            out.extend(item.decode())
        else:
            out.append(item)  # type: ignore[arg-type]
    return out


@attrs.frozen
class _Whole:
    """A worker's chunk accepted whole: its owner has the writes already."""

    owner: _Worker
    key: int
    writes: list[tuple[tuple[bytes, Pending], ...]]


class _BlockRun:
    """One block on the pool: hand out chunks, collect outcomes, validate in order."""

    def __init__(
        self,
        scheduler: ParallelScheduler,
        calls: Sequence[Any],
        executor: Executor[Any],
        state: StateOverlay,
        key: ExecutorKey | None = None,
        calls_only: bool = True,
        message: tuple[str, bytes] | None = None,
    ) -> None:
        self.s = scheduler
        #: The block's items: calls, or (``calls_only`` false) anything the executor runs.
        self.calls = calls
        self.executor = executor
        self.state = state
        self.calls_only = calls_only
        #: What the workers must execute with, and the message that tells them.
        self.key = key if key is not None else _calls_key(executor.settings)
        self._key_message = message
        size = scheduler.chunk_size
        self.starts = list(range(0, len(calls), size))
        self.next_chunk = 0
        self.handed_out = 0
        self.handed: set[int] = set()
        #: In wave mode: chunks (key, call indices) waiting for a worker.
        self.wave_queue: deque[tuple[int, list[int]]] | None = None
        #: The chunk the scheduling process works on: it is never handed to a worker.
        self.position = 0
        # The scheduling process keeps a share of the chunks for itself; it also validates the
        # others, so its share is less than an equal split (docs/parallel.md).
        workers = max(1, len(scheduler._pool))
        self.share = scheduler.own_share / workers
        self.max_ahead = scheduler.lookahead * (workers + 1)
        self.contended_ahead = max(1, scheduler.lookahead // 2) * (workers + 1)
        #: Idle workers held back by the lookahead bound, to be served as the position moves.
        self.waiting: set[int] = set()
        #: Replies by chunk key: the outcome and the worker that produced it, or ``_LOST``.
        self.outcomes: dict[int, tuple[worker.ChunkOutcome, _Worker] | None] = {}
        self.executions = self.reexecutions = self.failures = self.fallbacks = self.own = 0
        #: Whether speculation was given up because it mostly failed (a hot spot).
        self.hot = False
        #: Speculative results validated (accepted or not), for the hot-spot rule.
        self.checked = 0
        self.waves = 0
        self.worker_failures = 0
        self.serial_from: int | None = None
        #: Accepted chunks whose results are still pickled, oldest first.
        self.undecoded: deque[_Encoded] = deque()
        #: Validated writes not yet published to the workers, in block order.
        self.pending: list[tuple[tuple[bytes, Pending], ...] | _Whole] = []

    # -- handing out chunks ----------------------------------------------------------------

    def _hand_out(self, w: _Worker) -> None:
        if self.wave_queue is not None:
            if self.wave_queue:
                key, indices = self.wave_queue.popleft()
                self._send_chunk(w, key, [self.calls[i] for i in indices])
            return
        self._hand_out_next(w)

    def _hand_out_next(self, w: _Worker) -> None:
        # Never the chunk the scheduling process is about to take itself, nor the chunks kept
        # for it: it executes those in order, the workers the rest.
        self.next_chunk = max(self.next_chunk, self.position + 1)
        while self._own(self.next_chunk):
            self.next_chunk += 1
        if self.serial_from is not None or self.next_chunk >= len(self.starts):
            return
        # A worker running far ahead reads state that many unvalidated calls will change before
        # its results are checked: bound how far ahead it may go.
        if self.next_chunk > self.position + self.max_ahead:
            self.waiting.add(id(w))
            return
        self.waiting.discard(id(w))
        self.handed.add(self.next_chunk)
        start = self.starts[self.next_chunk]
        self.next_chunk += 1
        self._send_chunk(w, start, self.calls[start : start + self.s.chunk_size])

    def _send_chunk(self, w: _Worker, start: int, calls: Sequence[Any]) -> None:
        """Send ``calls`` to ``w`` as the chunk keyed ``start``; lose the worker on failure."""
        self.handed_out += 1
        try:
            if w.executor is not self.key:
                if w.executor != self.key:  # a new block environment, say: rebuild it there
                    if self._key_message is None:
                        blob = pickle.dumps(self.key, pickle.HIGHEST_PROTOCOL)
                        self._key_message = ("executor", blob)
                    w.conn.send(self._key_message)
                w.executor = self.key
            if not self.calls_only:
                try:
                    blob = pickle.dumps(list(calls), pickle.HIGHEST_PROTOCOL)
                except Exception:  # items no worker could load: this process runs them
                    log.debug("a chunk's items do not pickle; they run here", exc_info=True)
                    self.outcomes[start] = _LOST
                    return
                w.conn.send(("items", self.s._block, start, blob))
                w.inflight.append(start)
                return
        except OSError:
            self._lose(w)
            self.outcomes[start] = _LOST
            return
        wire = []
        code_ids = self.s._code_ids
        try:
            for call in calls:
                code_id = code_ids.get(call.code)
                if code_id is None:
                    code_id = code_ids[call.code] = len(code_ids)
                if code_id not in w.codes:  # each contract's code crosses once per worker
                    w.conn.send(("code", code_id, call.code))
                    w.codes.add(code_id)
                wire.append(worker.to_wire(call, code_id))
            w.conn.send(("chunk", self.s._block, start, wire))
        except OSError:
            self._lose(w)
            self.outcomes[start] = _LOST
            return
        w.inflight.append(start)

    def _own(self, index: int) -> bool:
        """Whether chunk ``index`` is kept for the scheduling process (a ``share`` of them)."""
        return index == 0 or int(index * self.share) != int((index - 1) * self.share)

    def _lose(self, w: _Worker) -> None:
        if w.alive:
            w.alive = False
            self.worker_failures += 1
            log.warning("parallel-scheduler worker %d failed; its calls run here", w.process.pid)
        for start in w.inflight:
            self.outcomes.setdefault(start, _LOST)
        w.inflight.clear()

    def _receive(self, timeout: float | None) -> None:
        pool = [w for w in self.s._pool if w.alive]
        if not pool:
            return
        conns = [w.conn for w in pool]
        if timeout:
            # About to wait for a worker: unpickle accepted results meanwhile.
            undecoded = self.undecoded
            while undecoded and not wait(conns, 0):
                undecoded.popleft().decode()
        # A dead worker's socket closes: it shows up as ready and recv() raises EOFError.
        ready = wait(conns, timeout)
        for w in pool:
            if w.conn in ready:
                try:
                    message = w.conn.recv()
                except (EOFError, OSError):
                    self._lose(w)
                    continue
                kind, block, start = message[0], message[1], message[2]
                if block != self.s._block:
                    continue
                if start in w.inflight:
                    w.inflight.remove(start)
                self.outcomes[start] = (message[3], w) if kind == "done" else _LOST
                if kind != "done":
                    log.warning("worker %d failed on a chunk:\n%s", w.process.pid, message[3])
                self._hand_out(w)

    def _await(self, key: int) -> tuple[worker.ChunkOutcome, _Worker] | None:
        """The reply to chunk ``key``, waiting for it; ``_LOST`` once no worker is left alive."""
        while key not in self.outcomes:
            if not any(w.alive for w in self.s._pool):
                return _LOST
            self._receive(timeout=1.0)
        return self.outcomes.pop(key)

    # -- the block ---------------------------------------------------------------------------

    def execute(self) -> list[ExecutionResult]:
        # The scheduling process executes too: it takes the first chunk, and later every chunk
        # no worker has been handed yet when it gets there, so it never idles while workers
        # run ahead; what a worker returns in time, it only validates.
        for _ in range(self.s.prefetch):
            for w in self.s._pool:
                self._hand_out(w)
        results: list[ExecutionResult | _Encoded] = []
        size = self.s.chunk_size
        for index, start in enumerate(self.starts):
            self.position = index
            chunk = self.calls[start : start + size]
            if self.serial_from is not None:
                for call in chunk:
                    results.append(self._run_serially(call))
                continue
            if index not in self.handed:
                results.extend(self._run_own(chunk))
            else:
                reply = self._await(start)
                if reply is _LOST:
                    self.fallbacks += len(chunk)
                    results.extend(self._run_own(chunk, own=False))
                else:
                    self._validate(start, chunk, reply[0], reply[1], results)
            if self.serial_from is None:
                self._publish()
                # Serve finished workers before going on: they get their next chunk now
                # instead of idling until this loop needs their result.
                self.position = index + 1
                for w in self.s._pool:
                    if w.alive and id(w) in self.waiting:
                        self._hand_out(w)
                self._receive(timeout=0)
        self._drain()
        return _decoded(results)

    def _stale(self, outcome: worker.ChunkOutcome) -> tuple[set[bytes], bool]:
        """The keys a chunk read whose values are not the block state's now, and whether
        every range it iterated is unchanged (:class:`ConflictDetector` for a whole chunk).

        Every value is compared, not only keys the block wrote: the replica is meant to be the
        block's pre-state, but nothing is taken on trust (a storage changed behind the
        scheduler's back costs re-executions, never a wrong result).
        """
        _results, reads, ranges, _writes, _item_reads = outcome
        stale = ConflictDetector.stale_keys(reads, self.state)
        return stale, not ranges or ConflictDetector.ranges_hold(ranges, self.state)

    def _validate(
        self,
        key: int,
        chunk: Sequence[Any],
        outcome: worker.ChunkOutcome,
        owner: _Worker,
        results: list[ExecutionResult | _Encoded],
    ) -> None:
        """Accept a worker's chunk, or the calls of it that saw the serial state.

        A chunk whose outside reads all still hold is accepted whole. Otherwise the calls are
        walked in order: a call is exactly the serial one unless it read a stale key or a key
        that an earlier re-executed call of the chunk wrote (in either execution); such a call
        is re-executed here. A chunk that iterated ranges is re-executed from its first
        rejected call (a range can change without any key it yielded changing).
        """
        encoded, _reads, ranges, writes, item_reads = outcome
        n = len(writes)
        self.executions += n
        stale, ranges_ok = self._stale(outcome)
        if not stale and ranges_ok:
            self.state.apply(chain.from_iterable(writes))
            self.pending.append(_Whole(owner, key, writes))
            self.checked += n
            # The results themselves are only unpickled when this process would otherwise
            # wait for a worker (or at the end): see _Encoded.
            blob = _Encoded(encoded)
            self.undecoded.append(blob)
            results.append(blob)
            return
        spec_results = _Encoded(encoded).decode()
        dirty = stale
        strict = not ranges_ok
        size = self.s.chunk_size
        for offset, (call, result, changes) in enumerate(
            zip(chunk, spec_results, writes, strict=True)
        ):
            self.checked += 1
            # A call's result names what it read; other items' reads the worker recorded.
            read = result.read_set if item_reads is None else item_reads[offset]
            if not strict and dirty.isdisjoint(read):
                self.state.apply(changes)
                self.pending.append(changes)
                results.append(result)
                continue
            self.failures += 1
            self.reexecutions += 1
            again, again_changes = self._run_here(call)
            results.append(again)
            if item_reads is None:
                dirty |= result.write_set
                dirty |= again.write_set
            else:  # what either execution left changed is what later items may see differ
                dirty.update(key for key, _ in changes)
                dirty.update(key for key, _ in again_changes)
            strict = strict or bool(ranges)
            # Give up on speculation early when it mostly fails (a hot spot: every call
            # conflicts), and in any case past the bound on re-executions.
            bound = self.s.max_reexecutions
            self.hot = self.checked >= size and self.failures > bound * self.checked
            if self.checked >= 2 * size and self.failures > CONTENDED * self.checked:
                # Contended: results go stale while workers run far ahead, so keep them close.
                self.max_ahead = self.contended_ahead
            if self.hot or self.reexecutions > bound * len(self.calls):
                self.serial_from = key + offset + 1
                log.info("re-execution bound hit: the rest of the block runs serially")
                for rest in chunk[offset + 1 :]:
                    results.append(self._run_serially(rest))
                return

    def execute_waves(self) -> list[ExecutionResult] | None:
        """Run a block whose calls all declare access lists, wave by wave, without speculation.

        The dependency graph of the declared keys orders the calls into waves whose members
        touch disjoint keys; each wave runs in parallel on the state after the previous ones,
        which gives the serial result as long as the declarations are true. Every call's actual
        read and write sets are checked against its declaration (and worker results are
        validated as usual); at the first call that strayed, ``None`` is returned and the
        block must be run again the ordinary way.
        """
        calls = self.calls
        graph = DependencyGraph.build((c.access_list or (), c.access_list or ()) for c in calls)
        size = self.s.chunk_size
        results: dict[int, ExecutionResult] = {}
        key = 0
        for wave in graph.waves():
            chunks = [wave[i : i + size] for i in range(0, len(wave), size)]
            own = [c for n, c in enumerate(chunks) if n == 0 or self._own(n)]
            handed = [c for n, c in enumerate(chunks) if not (n == 0 or self._own(n))]
            keyed = []
            for chunk in handed:
                keyed.append((key, chunk))
                key += 1
            self.wave_queue = deque(keyed)
            if keyed:
                self._publish()  # workers start this wave from every earlier wave's writes
                for _ in range(self.s.prefetch):
                    for w in self.s._pool:
                        if w.alive:
                            self._hand_out(w)
            for chunk in own:
                done = self._run_own([calls[i] for i in chunk])
                if not all(_declared(calls[i], r) for i, r in zip(chunk, done, strict=True)):
                    self._abandon()
                    return None
                results.update(zip(chunk, done, strict=True))
                if keyed:
                    self._receive(timeout=0)  # keep the workers fed
            for chunk_key, chunk in keyed:
                reply = self._await(chunk_key)
                if reply is _LOST:
                    self.fallbacks += len(chunk)
                    done = self._run_own([calls[i] for i in chunk], own=False)
                else:
                    outcome, owner = reply
                    self.executions += len(chunk)
                    stale, ranges_ok = self._stale(outcome)
                    if stale or not ranges_ok or outcome[2]:
                        self._abandon()
                        return None
                    self.state.apply(chain.from_iterable(outcome[3]))
                    self.pending.append(_Whole(owner, chunk_key, outcome[3]))
                    done = _Encoded(outcome[0]).decode()
                if not all(_declared(calls[i], r) for i, r in zip(chunk, done, strict=True)):
                    self._abandon()
                    return None
                results.update(zip(chunk, done, strict=True))
        self.wave_queue = None
        self.waves = graph.longest_chain()
        return [results[i] for i in range(len(calls))]

    def _abandon(self) -> None:
        """Give up the wave plan: the caller starts the block again from its pre-state."""
        self.wave_queue = None
        self.pending.clear()
        self.outcomes.clear()
        log.info("a call strayed outside its access list: the block runs speculatively")

    def _run_own(self, chunk: Sequence[Any], *, own: bool = True) -> list[ExecutionResult]:
        """Execute ``chunk`` here, in order, on the block state, in one snapshot whose net
        changes are what the workers are sent."""
        state, executor = self.state, self.executor
        self.executions += len(chunk)
        if own:
            self.own += len(chunk)
        state.snapshot()
        if self.calls_only:  # a call's backend tracks its own reads and writes
            done = [executor(call, state) for call in chunk]
        else:  # as the serial scheduler does: each item starts with fresh tracking
            done = []
            for item in chunk:
                state.reset_tracking()
                done.append(executor(item, state))
        self.pending.append(tuple(state.commit_snapshot().items()))
        return done

    def _run_here(self, call: Any) -> tuple[ExecutionResult, tuple[tuple[bytes, Pending], ...]]:
        """Execute one item here on the block state (a re-execution); its result and changes."""
        result = self._run_own((call,), own=False)[0]
        changes = self.pending[-1]
        assert type(changes) is tuple
        return result, changes

    def _run_serially(self, call: Any) -> ExecutionResult:
        """Execute one item of the block's serial rest: the workers need none of its writes."""
        self.executions += 1
        self.fallbacks += 1
        if not self.calls_only:
            self.state.reset_tracking()
        return self.executor(call, self.state)

    def _publish(self) -> None:
        """Send the writes validated since the last publication to every worker.

        A worker is not sent back the writes of its own chunks that were accepted whole, only
        their keys: it kept them.
        """
        pending = self.pending
        if not pending or self.serial_from is not None:
            pending.clear()
            return
        block = self.s._block
        for w in self.s._pool:
            if not w.alive:
                continue
            segments: list[Any] = []
            for item in pending:
                if type(item) is not _Whole:
                    if item:
                        segments.append(item)
                elif item.owner is w:
                    segments.append(item.key)
                else:
                    segments.extend(changes for changes in item.writes if changes)
            try:
                w.conn.send(("writes", block, segments))
            except OSError:
                self._lose(w)
        self.pending = []

    def _drain(self) -> None:
        """Leave chunks still running to finish on their own: the block's results are final.

        Their replies are read and dropped before the next message to that worker
        (:meth:`ParallelScheduler._settle`), so no reply waits in a full socket.
        """
        self.outcomes.clear()

    def stats(self, wall_time: float) -> BlockStats:
        return BlockStats(
            transactions=len(self.calls),
            executions=self.executions,
            reexecutions=self.reexecutions,
            validation_failures=self.failures,
            fallbacks=self.fallbacks,
            own=self.own,
            waves=self.waves,
            worker_failures=self.worker_failures,
            workers=len(self.s._pool),
            chunks=self.handed_out,
            wall_time=wall_time,
        )


def _declared(call: Call, result: ExecutionResult) -> bool:
    """Whether ``result`` stayed within the keys ``call`` declared."""
    declared = frozenset(call.access_list or ())
    return result.read_set <= declared and result.write_set <= declared
