"""µs per ERC20 transfer: the Python path against the native path (and pyrevm), in one run.

:func:`erc20_transfer_times` takes the compiled AssemblyScript ERC20, deploys it on both WASM
paths, funds the accounts, and times the same transfers on each, rounds interleaved so that
machine noise hits all alike, keeping each side's best round (as ``timeit`` does). Each round
starts from the funded state, in one overlay, as ``supervm bench erc20`` runs. Both paths must
end with equal results and equal state (``equal``). ``supervm bench native-erc20`` builds the
contracts with ``supervm_bench_erc20`` and adds pyrevm's row, on the same calldata.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import click
from eth_abi.abi import encode
from supervm import (
    ExecutionBackend,
    ExecutionContext,
    ExecutionResult,
    Kernel,
    StateOverlay,
    VMSettings,
)
from supervm.state.storage import Storage
from supervm.tooling.abi import selector

TRANSFER = selector("transfer(address,uint256)")
DEPLOYER = bytes.fromhex("de9107e7de9107e7de9107e7de9107e7de9107e7")
TOKEN = bytes.fromhex("70" * 20)
GAS = 1_000_000
FUNDING = 10**24


@attrs.frozen
class TransferTimes:
    """Best µs per transfer of each engine.

    :param python_us: the ``wasm`` backend (host functions in Python).
    :param native_us: the ``wasm-native`` backend.
    :param pyrevm_us: pyrevm on the Solidity ERC20, when measured.
    :param engine: ``native``, or ``python`` when the native core is unavailable here.
    :param equal: both WASM paths gave the same results and the same state.
    """

    python_us: float
    native_us: float
    pyrevm_us: float | None
    engine: str
    equal: bool

    def as_json(self) -> dict[str, Any]:
        """One JSON object: the times, the ratios, ``engine`` and ``equal``."""
        data: dict[str, Any] = {
            "python_us": round(self.python_us, 3),
            "native_us": round(self.native_us, 3),
            "native_vs_python": round(self.python_us / self.native_us, 2),
            "engine": self.engine,
            "equal": self.equal,
        }
        if self.pyrevm_us is not None:
            data["pyrevm_us"] = round(self.pyrevm_us, 3)
            data["native_vs_pyrevm"] = round(self.pyrevm_us / self.native_us, 3)
            data["python_vs_pyrevm"] = round(self.pyrevm_us / self.python_us, 3)
        return data


def accounts(n: int) -> list[bytes]:
    """``n`` distinct account addresses (those of ``supervm bench erc20``)."""
    return [(0xACC0_0000_0000 + i).to_bytes(20, "big") for i in range(n)]


def transfers(addresses: Sequence[bytes], n: int, seed: int = 1) -> list[tuple[int, bytes]]:
    """``n`` transfers between random distinct accounts: ``(sender index, calldata)``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sender, recipient = rng.sample(range(len(addresses)), 2)
        data = TRANSFER + encode(
            ["address", "uint256"], ["0x" + addresses[recipient].hex(), rng.randint(1, 1000)]
        )
        out.append((sender, data))
    return out


class _Token:
    """The ERC20 deployed and funded on one backend."""

    def __init__(
        self, backend: ExecutionBackend, code: bytes, storage: Storage, who: Sequence[bytes]
    ):
        self.backend, self.code, self.storage = backend, code, storage
        state = StateOverlay(storage)
        args = encode(["string", "string", "uint256"], ["Bench Token", "BNCH", 10**30])
        deployed = backend.execute(
            code,
            state,
            ExecutionContext(caller=DEPLOYER, address=TOKEN),
            entry="deploy",
            input=args,
        )
        if not deployed.ok:
            raise RuntimeError(f"ERC20 deploy failed: {deployed.error}")
        deployer = ExecutionContext(caller=DEPLOYER, address=TOKEN, gas_limit=GAS)
        for account in who:
            data = TRANSFER + encode(["address", "uint256"], ["0x" + account.hex(), FUNDING])
            funded = backend.execute(code, state, deployer, input=data)
            if not funded.ok:
                raise RuntimeError(f"funding failed: {funded.error}")
        state.commit()
        self.contexts = [ExecutionContext(caller=a, address=TOKEN, gas_limit=GAS) for a in who]

    def run(self, batch: Sequence[tuple[int, bytes]]) -> tuple[float, list[ExecutionResult], Any]:
        """Seconds for the batch, its results, and the overlay's changes (not committed)."""
        state = StateOverlay(self.storage)
        execute, code, contexts = self.backend.execute, self.code, self.contexts
        results: list[ExecutionResult] = []
        append = results.append
        start = time.perf_counter()
        for sender, data in batch:
            append(execute(code, state, contexts[sender], input=data))
        elapsed = time.perf_counter() - start
        return elapsed, results, state.changes()


def erc20_transfer_times(
    kernel: Kernel,
    code: bytes,
    *,
    n_transfers: int = 10_000,
    n_accounts: int = 1_000,
    rounds: int = 3,
    pyrevm: Callable[[Sequence[tuple[int, bytes]]], float] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> TransferTimes:
    """Time the same transfers on the Python and the native path (and ``pyrevm``).

    :param code: the compiled AssemblyScript ERC20.
    :param pyrevm: runs a batch of ``(sender index, calldata)`` on pyrevm, returns seconds.
    """
    if n_accounts < 2:
        raise ValueError("need at least two accounts")
    if n_transfers < 1 or rounds < 1:
        raise ValueError("need at least one transfer and one round")
    who = accounts(n_accounts)
    batch = transfers(who, n_transfers)
    settings = VMSettings(cache_dir="")
    python_vm, native_vm = kernel.vm("wasm", settings), kernel.vm("wasm-native", settings)
    progress(f"deploying and funding {n_accounts} accounts on both WASM paths")
    tokens = {
        "python": _Token(python_vm, code, kernel.open_storage("memory"), who),
        "native": _Token(native_vm, code, kernel.open_storage("memory"), who),
    }
    best = {"python": float("inf"), "native": float("inf"), "pyrevm": float("inf")}
    outcomes: dict[str, Any] = {}
    for r in range(rounds):
        for name, token in tokens.items():
            progress(f"round {r + 1}/{rounds}: {name}")
            elapsed, results, changes = token.run(batch)
            best[name] = min(best[name], elapsed)
            outcomes[name] = (results, changes)
        if pyrevm is not None:
            progress(f"round {r + 1}/{rounds}: pyrevm")
            best["pyrevm"] = min(best["pyrevm"], pyrevm(batch))
    per = 1e6 / n_transfers
    engine = getattr(native_vm, "engine_kind", "python")
    return TransferTimes(
        python_us=best["python"] * per,
        native_us=best["native"] * per,
        pyrevm_us=best["pyrevm"] * per if pyrevm is not None else None,
        engine=engine,
        equal=outcomes["python"] == outcomes["native"],
    )


def _pyrevm_runner(
    evm_artifact: Any, who: Sequence[bytes]
) -> Callable[[Sequence[tuple[int, bytes]]], float]:
    from supervm_bench_erc20.bench import DEPLOYER as EVM_DEPLOYER
    from supervm_bench_erc20.bench import FUNDING as EVM_FUNDING
    from supervm_bench_erc20.engines import PyrevmEngine, Transfer, transfer_calldata

    engine = PyrevmEngine(evm_artifact, EVM_DEPLOYER, who)
    for account in who:
        engine.transfer(-1, transfer_calldata(account, EVM_FUNDING))

    def run(batch: Sequence[tuple[int, bytes]]) -> float:
        items = [Transfer(sender, data) for sender, data in batch]
        start = time.perf_counter()
        engine.run(items)
        return time.perf_counter() - start

    return run


@click.command("native-erc20")
@click.option("--transfers", "n_transfers", default=10_000, show_default=True, type=int)
@click.option("--accounts", "n_accounts", default=1_000, show_default=True, type=int)
@click.option("--rounds", default=3, show_default=True, type=int)
@click.option("--no-pyrevm", is_flag=True, help="Skip the pyrevm row.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def native_erc20_command(
    n_transfers: int, n_accounts: int, rounds: int, no_pyrevm: bool, as_json: bool
) -> None:
    """µs per ERC20 transfer: Python host functions vs the native path (vs pyrevm)."""
    import json

    from supervm_bench_erc20.bench import build_artifacts

    if n_accounts < 2:
        raise click.BadParameter("need at least 2 accounts", param_hint="--accounts")
    if n_transfers < 1 or rounds < 1:
        raise click.BadParameter("transfers and rounds must be at least 1")

    def say(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    with Kernel.from_plugins(["wasm_native"]) as kernel, tempfile.TemporaryDirectory() as tmp:
        say("compiling the AssemblyScript and Solidity ERC20s")
        wasm, evm = build_artifacts(kernel, Path(tmp))
        pyrevm = None if no_pyrevm else _pyrevm_runner(evm, accounts(n_accounts))
        report = erc20_transfer_times(
            kernel, wasm.bytecode, n_transfers=n_transfers, n_accounts=n_accounts,
            rounds=rounds, pyrevm=pyrevm, progress=say,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(f"{'engine':<22} {'µs/transfer':>12} {'vs pyrevm':>10}")
    rows = [
        ("wasm (Python host)", report.python_us),
        (f"wasm-native ({report.engine})", report.native_us),
    ]
    if report.pyrevm_us is not None:
        rows.append(("pyrevm", report.pyrevm_us))
    for name, us in rows:
        ratio = f"{report.pyrevm_us / us:.2f}x" if report.pyrevm_us else ""
        click.echo(f"{name:<22} {us:>12.3f} {ratio:>10}")
    click.echo(
        f"native vs Python path: {report.python_us / report.native_us:.2f}x; equal: {report.equal}"
    )
