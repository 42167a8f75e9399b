"""``supervm bench parallel``: serial vs parallel execution of token-transfer blocks.

The workload of the Block-STM paper: transfers between random distinct accounts out of 2 to
10,000, in blocks of 1,000 and 10,000 transactions, on the AssemblyScript ERC20 (compiled from
this package's copy of ``examples/contracts/erc20-as``, package data, so that the benchmark runs
from an installed wheel). Serial and parallel runs start from identical states and must end in
identical ones.

Two engines: ``native`` (the calls name the ``wasm-native`` backend: the serial side is the
native serial path, the parallel side the native block executor on threads) and ``python``
(the ``wasm`` backend: host functions in Python, the parallel side on worker processes).
``auto`` takes ``native`` where the native core is available. Each cell also measures
``hardware_scaling``, the scaling of two processes of pure computation at that moment.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import click
from eth_abi.abi import encode
from supervm import (
    Call,
    CompileSettings,
    ExecutionContext,
    Kernel,
    SchedulerSettings,
    StateOverlay,
    Storage,
    load_artifact,
)
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.cli.compile import compile_paths
from supervm.cli.state import kernel_state
from supervm.tooling.abi import selector
from supervm.tooling.package_data import package_dir

from .costs import MAIN_HANDED, MAIN_OWN, WORKER_HANDED, WORKER_OTHER, ceiling, measure_costs
from .graph import from_results
from .hardware import hardware_scaling
from .scheduler import DEFAULT_CHUNK, ParallelScheduler

#: The token's source directory in this package's ``contracts/`` (package data).
TOKEN_CONTRACT = "erc20-as"
DEPLOYER = bytes.fromhex("de9107e7de9107e7de9107e7de9107e7de9107e7")
TRANSFER = selector("transfer(address,uint256)")
GAS = 1_000_000
GRID_ACCOUNTS = (2, 10, 100, 1_000, 10_000)
GRID_TXS = (1_000, 10_000)

Progress = Callable[[str], None]


def _silent(_message: str) -> None:
    pass


@attrs.frozen
class Cell:
    """One measurement: a block of ``txs`` transfers among ``accounts`` accounts."""

    accounts: int
    txs: int
    workers: int
    serial_tps: float
    parallel_tps: float
    reexecutions_per_tx: float
    parallelism: float
    equal: bool
    engine: str = "python"
    hardware_scaling: float | None = None

    def as_json(self) -> dict[str, float | bool | str | None]:
        """The ``--json`` line."""
        return {
            "serial_tps": round(self.serial_tps, 1),
            "parallel_tps": round(self.parallel_tps, 1),
            "speedup": round(self.parallel_tps / self.serial_tps, 3),
            "reexecutions_per_tx": round(self.reexecutions_per_tx, 4),
            "equal": self.equal,
            "engine": self.engine,
            "hardware_scaling": (
                None if self.hardware_scaling is None else round(self.hardware_scaling, 3)
            ),
        }


def _address(i: int) -> bytes:
    return (0xACC0_0000_0000 + i).to_bytes(20, "big")


def _transfer(to: bytes, amount: int) -> bytes:
    return TRANSFER + encode(["address", "uint256"], ["0x" + to.hex(), amount])


class Workload:
    """The token, deployed and funded identically on as many storages as asked."""

    def __init__(self, kernel: Kernel, code: bytes, accounts: int) -> None:
        self.kernel = kernel
        self.code = code
        self.accounts = [_address(i) for i in range(accounts)]

    def fresh_state(self) -> tuple[Storage, bytes]:
        """A memory storage with the token deployed and every account funded."""
        storage = self.kernel.open_storage("memory")
        ctor = encode(["string", "string", "uint256"], ["Bench", "BNCH", 10**30])
        deployment = self.kernel.deploy(
            self.code, storage, ExecutionContext(caller=DEPLOYER), input=ctor
        )
        if not deployment.ok:
            raise click.ClickException(f"token deploy failed: {deployment.result.error}")
        state = StateOverlay(storage)
        vm = self.kernel.vm()
        context = ExecutionContext(caller=DEPLOYER, address=deployment.address, gas_limit=GAS)
        for account in self.accounts:
            result = vm.execute(self.code, state, context, input=_transfer(account, 10**24))
            if not result.ok:
                raise click.ClickException(f"funding failed: {result.error}")
        state.commit()
        return storage, deployment.address

    def block(self, token: bytes, txs: int, seed: int, vm: str = "wasm") -> list[Call]:
        """``txs`` transfers between random distinct accounts, on the backend ``vm``."""
        rng = random.Random(seed)
        calls = []
        n = len(self.accounts)
        for _ in range(txs):
            sender, recipient = rng.sample(range(n), 2)
            context = ExecutionContext(caller=self.accounts[sender], address=token, gas_limit=GAS)
            data = _transfer(self.accounts[recipient], rng.randint(1, 1000))
            calls.append(Call(code=self.code, input=data, context=context, vm=vm))
        return calls


#: The backend the calls name, by engine.
ENGINE_VMS = {"native": "wasm-native", "python": "wasm"}


def pick_engine(kernel: Kernel, wanted: str) -> str:
    """``native`` or ``python``: ``auto`` is native where the native core runs here."""
    if wanted == "python":
        return "python"
    available = False
    if "wasm-native" in kernel.vms.names():
        available = getattr(kernel.vm("wasm-native"), "engine_kind", "python") == "native"
    if wanted == "native" and not available:
        raise click.ClickException("the native engine is not available here (see `supervm native`)")
    return "native" if available else "python"


@contextlib.contextmanager
def token_source() -> Iterator[Path]:
    """The AssemblyScript ERC20's source directory, from package data."""
    with package_dir("supervm_scheduler_parallel", "contracts", TOKEN_CONTRACT) as source:
        yield source


def build_token(kernel: Kernel) -> bytes:
    """Compile the AssemblyScript ERC20 and return its module."""
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    with tempfile.TemporaryDirectory() as tmp, token_source() as source:
        written = compile_paths(
            kernel.compilers(), (source,), CompileSettings(known_imports=known), Path(tmp)
        )
        artifacts = [load_artifact(p) for p in written]
    return next(a.bytecode for a in artifacts if a.kind == "wasm")


def declare_access_lists(kernel: Kernel, workload: Workload, calls: list[Call]) -> list[Call]:
    """Give each call the keys it touches, found by simulating the block on a scratch copy of
    the state (what ``eth_createAccessList`` does for an Ethereum client)."""
    scratch, _token = workload.fresh_state()
    simulated = SerialScheduler().execute_block(calls, scratch, kernel.executor())
    return [
        attrs.evolve(call, access_list=tuple(sorted(r.read_set | r.write_set)))
        for call, r in zip(calls, simulated.results, strict=True)
    ]


def measure(
    kernel: Kernel,
    code: bytes,
    accounts: int,
    txs: int,
    workers: int,
    access_lists: bool = False,
    rounds: int = 3,
    progress: Progress = _silent,
    engine: str = "python",
    scaling: bool = True,
) -> Cell:
    """Run one block serially and in parallel from identical states, ``rounds`` times; compare.

    Each round starts both sides from freshly funded states; the best time of each side is
    kept (as ``timeit`` does), since this machine's noise only ever adds time. ``progress`` is
    told each phase before it starts (never inside a timed region). ``engine`` picks the
    backend the calls name (:data:`ENGINE_VMS`); ``scaling`` measures ``hardware_scaling``
    after the rounds.
    """
    vm = ENGINE_VMS[engine]
    cell = f"{accounts:,} accounts x {txs:,} txs"
    progress(f"deploying the token and funding {max(accounts, 2):,} accounts")
    workload = Workload(kernel, code, max(accounts, 2))
    _storage, token = workload.fresh_state()
    calls = workload.block(token, txs, seed=accounts * 7919 + txs, vm=vm)
    if access_lists:
        progress(f"simulating the block for its access lists ({cell})")
        calls = declare_access_lists(kernel, workload, calls)
    executor = kernel.executor()
    options = {"native_threads": str(workers + 1)} if engine == "native" else {}
    settings = SchedulerSettings(workers=workers, options=options)
    # Warm both sides up with the same small block (module caches, worker replicas), as a
    # running node is after its first block; the timed block then measures execution only.
    warmup = workload.block(token, 4 * DEFAULT_CHUNK * (workers + 1), seed=1, vm=vm)
    serial_time = parallel_time = float("inf")
    reexecutions = 0
    equal = True
    for r in range(rounds):
        # A scheduler per round: rounds are independent (no cool-down carried over).
        scheduler = ParallelScheduler(settings)
        try:
            progress(f"round {r + 1}/{rounds}: funding fresh states ({cell})")
            serial_storage, token1 = workload.fresh_state()
            parallel_storage, token2 = workload.fresh_state()
            assert token1 == token2 == token
            progress(f"round {r + 1}/{rounds}: serial {cell}")
            gc.collect()
            SerialScheduler().execute_block(warmup, serial_storage, executor)
            start = time.perf_counter()
            serial = SerialScheduler().execute_block(calls, serial_storage, executor)
            serial_time = min(serial_time, time.perf_counter() - start)

            who = f"{workers + 1} threads" if engine == "native" else _workers(workers)
            progress(f"round {r + 1}/{rounds}: parallel ({who}) {cell}")
            scheduler.execute_block(warmup, parallel_storage, executor)
            gc.collect()
            start = time.perf_counter()
            parallel = scheduler.execute_block(calls, parallel_storage, executor)
            elapsed = time.perf_counter() - start
            stats = scheduler.last_stats
            if elapsed < parallel_time:
                parallel_time = elapsed
                reexecutions = stats.reexecutions if stats else 0
            equal = equal and (
                serial == parallel
                and dict(serial_storage.iterate()) == dict(parallel_storage.iterate())
            )
            if stats is not None and stats.engine != engine:
                raise click.ClickException(
                    f"the parallel side ran on the {stats.engine} engine, not {engine}"
                )
        finally:
            scheduler.close()
    measured_scaling = None
    if scaling:
        progress(f"measuring the hardware scaling of two processes ({cell})")
        measured_scaling = hardware_scaling()
    return Cell(
        accounts=accounts,
        txs=txs,
        workers=workers,
        serial_tps=txs / serial_time,
        parallel_tps=txs / parallel_time,
        reexecutions_per_tx=reexecutions / txs,
        parallelism=from_results(serial.results).parallelism(),
        equal=equal,
        engine=engine,
        hardware_scaling=measured_scaling,
    )


@click.command("parallel")
@click.option("--accounts", type=click.IntRange(min=2), help="One cell: accounts.")
@click.option("--txs", type=click.IntRange(min=1), help="One cell: transactions in the block.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes besides the scheduling one (default: --workers, else cores - 1).",
)
@click.option(
    "--access-lists", is_flag=True, help="Calls declare the keys they touch (found by simulation)."
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Rounds per cell; each side's best time is kept.",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "native", "python"]),
    default="auto",
    show_default=True,
    help="native: the wasm-native backend, parallel on native threads; python: the wasm "
    "backend, parallel on worker processes; auto: native where available.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (one cell).")
@click.option(
    "--costs",
    is_flag=True,
    help="Time each step of moving a call between processes (one cell) and print the "
    "speedup those costs allow at best.",
)
def parallel_command(
    accounts: int | None,
    txs: int | None,
    workers: int | None,
    access_lists: bool,
    rounds: int,
    engine: str,
    as_json: bool,
    costs: bool,
) -> None:
    """Serial vs parallel tx/s on token-transfer blocks (the Block-STM workload)."""
    if costs and (as_json or access_lists):
        raise click.UsageError("--costs prints a table of its own: drop --json/--access-lists")
    kernel = kernel_state(click.get_current_context()).kernel
    workers = workers or kernel.scheduler_settings.workers or ParallelScheduler().workers
    progress: Progress = _silent if as_json else _to_stderr
    chosen = pick_engine(kernel, engine)
    progress("compiling the AssemblyScript ERC20")
    code = build_token(kernel)
    if costs:
        _print_costs(kernel, code, accounts or 10_000, txs or 10_000, workers, rounds, progress)
        return
    if accounts is not None or txs is not None or as_json:
        cell = measure(
            kernel,
            code,
            accounts or 10_000,
            txs or 1_000,
            workers,
            access_lists,
            rounds,
            progress,
            chosen,
        )
        if as_json:
            click.echo(json.dumps(cell.as_json()))
        else:
            _print([cell])
        return
    grid = [(a, n) for n in GRID_TXS for a in GRID_ACCOUNTS]
    cells = []
    for i, (a, n) in enumerate(grid):
        prefix = f"cell {i + 1}/{len(grid)}: "
        cells.append(
            measure(
                kernel,
                code,
                a,
                n,
                workers,
                access_lists,
                rounds,
                _prefixed(progress, prefix),
                chosen,
            )
        )
    _print(cells)


def _to_stderr(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _prefixed(progress: Progress, prefix: str) -> Progress:
    return lambda message: progress(prefix + message)


def _workers(n: int) -> str:
    return f"{n} worker{'s' if n > 1 else ''}"


def _print_costs(
    kernel: Kernel,
    code: bytes,
    accounts: int,
    txs: int,
    workers: int,
    rounds: int,
    progress: Progress = _silent,
) -> None:
    progress(f"deploying the token and funding {accounts:,} accounts")
    workload = Workload(kernel, code, accounts)
    _storage, token = workload.fresh_state()
    calls = workload.block(token, txs, seed=accounts * 7919 + txs)
    progress(f"timing each step of moving a call between processes ({rounds} rounds)")
    measured = measure_costs(
        kernel.executor(), lambda: workload.fresh_state()[0], calls, DEFAULT_CHUNK, rounds
    )
    click.echo(
        f"{txs:,} transfers among {accounts:,} accounts: microseconds per call, "
        f"best of {rounds} rounds"
    )
    click.echo(f"  {'execute (serial scheduler)':<44}{measured.execute:>7.2f}")
    click.echo(f"  {'commit, and the collector catching up':<44}{measured.tail:>7.2f}")
    for who in (WORKER_HANDED, MAIN_HANDED, MAIN_OWN, WORKER_OTHER):
        click.echo(f"  {who}: {measured.total(who):.2f}")
        for payer, step, us in measured.steps:
            if payer == who:
                click.echo(f"    {step:<42}{us:>7.2f}")
    speedup, share = ceiling(measured, workers)
    click.echo(
        f"ceiling with {workers} worker{'s' if workers > 1 else ''}: {speedup:.2f}x "
        f"({share:.0%} of the calls on workers; these steps only: no sockets, no scheduling, "
        "no conflicts)"
    )
    cores = os.cpu_count() or 1
    if workers + 1 > cores:
        click.echo(f"(the ceiling assumes a core per process; this machine has {cores})")


def _print(cells: list[Cell]) -> None:
    click.echo(
        f"{'accounts':>8} {'txs':>6} {'serial tx/s':>12} {'parallel tx/s':>14} "
        f"{'speedup':>8} {'hw scaling':>10} {'re-exec/tx':>10} {'parallelism':>11} {'equal':>6}"
    )
    for c in cells:
        scaling = "" if c.hardware_scaling is None else f"{c.hardware_scaling:.2f}x"
        click.echo(
            f"{c.accounts:>8} {c.txs:>6} {c.serial_tps:>12,.0f} {c.parallel_tps:>14,.0f} "
            f"{c.parallel_tps / c.serial_tps:>7.2f}x {scaling:>10} {c.reexecutions_per_tx:>10.3f} "
            f"{c.parallelism:>11.1f} {c.equal!s:>6}"
        )
    first = cells[0]
    if first.engine == "native":
        side = f"native block executor on {first.workers + 1} threads, vs the native serial path"
    else:
        side = f"{_workers(first.workers)}, host functions in Python"
    click.echo(
        f"engine: {first.engine} ({side}); hw scaling = two processes of pure computation "
        "measured in the same cell; parallelism = transactions / longest conflict chain"
    )
