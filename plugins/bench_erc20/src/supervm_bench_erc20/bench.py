"""The ERC20 benchmark: the same transfers on three engines, measured side by side.

The WASM token is the AssemblyScript ERC20 (``examples/contracts/erc20-as``) on SuperVM; the
EVM token is the OpenZeppelin-based Solidity ERC20 (``examples/contracts/erc20-sol``) on pyrevm
and on py-evm. Every engine deploys with the same constructor arguments, funds the same
accounts and receives byte-identical calldata; rounds are interleaved so that machine noise
hits all engines alike, and the best round of each is kept.

Both contracts are compiled from this package's copies (``contracts/``, package data; the tests
check they equal ``examples/``), so the benchmark runs from an installed wheel too.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
from eth_abi.abi import encode
from supervm import Artifact, CompileSettings, Kernel, SuperVMError, load_artifact
from supervm.cli.compile import compile_paths
from supervm.tooling.package_data import package_dir

from .engines import (
    Engine,
    EvmStateEngine,
    PyevmEngine,
    PyrevmEngine,
    Transfer,
    WasmEngine,
    WasmNativeBlockEngine,
    WasmNativeEngine,
    native_available,
    transfer_calldata,
)

#: The contracts' directories in this package's ``contracts/`` (package data).
WASM_CONTRACT = "erc20-as"
EVM_CONTRACT = "erc20-sol"
DEPLOYER = bytes.fromhex("de9107e7de9107e7de9107e7de9107e7de9107e7")
FUNDING = 10**24


@attrs.frozen
class Report:
    """Transfers per second of each engine and the ratios."""

    wasm_tps: float
    pyrevm_tps: float
    pyevm_tps: float
    equal: bool
    #: The native path (``wasm-native``), call by call and as one block; ``None`` where the
    #: native core is unavailable.
    wasm_native_tps: float | None = None
    wasm_native_block_tps: float | None = None
    #: The Solidity ERC20 on the kernel's ``evm`` backend through a WorldState (issue 13).
    evm_tps: float | None = None

    def as_json(self) -> dict[str, float]:
        """The ``--json`` line."""
        data = {
            "wasm_tps": round(self.wasm_tps, 1),
            "pyrevm_tps": round(self.pyrevm_tps, 1),
            "pyevm_tps": round(self.pyevm_tps, 1),
            "wasm_vs_pyrevm": round(self.wasm_tps / self.pyrevm_tps, 3),
            "wasm_vs_pyevm": round(self.wasm_tps / self.pyevm_tps, 2),
        }
        for key, tps in (
            ("wasm_native", self.wasm_native_tps),
            ("wasm_native_block", self.wasm_native_block_tps),
            ("evm", self.evm_tps),
        ):
            if tps is not None:
                data[f"{key}_tps"] = round(tps, 1)
                data[f"{key}_vs_pyrevm"] = round(tps / self.pyrevm_tps, 3)
        return data


class ArtifactError(SuperVMError):
    """The benchmark's contracts could not be built or found."""


@contextlib.contextmanager
def contract_sources() -> Iterator[tuple[Path, Path]]:
    """The AssemblyScript and the Solidity ERC20's source directories, from package data."""
    with package_dir("supervm_bench_erc20", "contracts") as contracts:
        yield contracts / WASM_CONTRACT, contracts / EVM_CONTRACT


def build_artifacts(kernel: Kernel, out: Path) -> tuple[Artifact, Artifact]:
    """Compile the two ERC20s; returns ``(wasm, evm)`` artifacts."""
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    settings = CompileSettings(optimize=True, known_imports=known)
    registry = kernel.compilers()
    with contract_sources() as sources:
        written = compile_paths(registry, sources, settings, out)
    artifacts = [load_artifact(p) for p in written]
    wasm = [a for a in artifacts if a.kind == "wasm" and "erc20" in a.name.lower()]
    evm = [a for a in artifacts if a.kind == "evm" and "erc20" in a.name.lower()]
    if len(wasm) != 1 or len(evm) != 1:
        names = ", ".join(f"{a.name} ({a.kind})" for a in artifacts)
        raise ArtifactError(f"expected one WASM and one EVM ERC20, got: {names}")
    return wasm[0], evm[0]


def accounts(n: int) -> list[bytes]:
    """``n`` distinct account addresses."""
    return [(0xACC0_0000_0000 + i).to_bytes(20, "big") for i in range(n)]


def transfers(addresses: Sequence[bytes], n: int, seed: int = 7) -> list[Transfer]:
    """``n`` transfers between random distinct accounts, calldata encoded once for all."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sender, recipient = rng.sample(range(len(addresses)), 2)
        out.append(Transfer(sender, transfer_calldata(addresses[recipient], rng.randint(1, 1000))))
    return out


def _timed(engine: Engine, batch: Sequence[Transfer]) -> float:
    start = time.perf_counter()
    engine.run(batch)
    return len(batch) / (time.perf_counter() - start)


def run(
    n_transfers: int,
    n_accounts: int,
    n_pyevm: int,
    rounds: int,
    progress: Callable[[str], None] = lambda _m: None,
) -> Report:
    """Build, deploy, fund and measure; see the module docstring."""
    if n_accounts < 2:
        raise ValueError("need at least two accounts")
    addresses = accounts(n_accounts)
    with Kernel.from_plugins() as kernel, tempfile.TemporaryDirectory() as tmp:
        progress("compiling the AssemblyScript and Solidity ERC20s")
        wasm_art, evm_art = build_artifacts(kernel, Path(tmp))
        engines: list[Engine] = [
            WasmEngine(kernel, wasm_art, DEPLOYER, addresses),
            PyrevmEngine(evm_art, DEPLOYER, addresses),
            PyevmEngine(evm_art, DEPLOYER, addresses),
        ]
        native = native_available(kernel)
        if native:
            engines += [
                WasmNativeEngine(kernel, wasm_art, DEPLOYER, addresses),
                WasmNativeBlockEngine(kernel, wasm_art, DEPLOYER, addresses),
            ]
        engines.append(EvmStateEngine(kernel, evm_art, DEPLOYER, addresses))
        for engine in engines:
            progress(f"funding {n_accounts} accounts on {engine.name}")
            engine.fund(FUNDING)
        batches = {
            "wasm": transfers(addresses, n_transfers, seed=1),
            "pyrevm": transfers(addresses, n_transfers, seed=1),
            "pyevm": transfers(addresses, n_pyevm, seed=1),
        }
        for engine in engines[3:]:
            batches[engine.name] = transfers(addresses, n_transfers, seed=1)
        for engine in engines:
            engine.prepare(batches[engine.name])
        best = {e.name: 0.0 for e in engines}
        for r in range(rounds):
            for engine in engines:
                progress(f"round {r + 1}/{rounds}: {engine.name}")
                best[engine.name] = max(best[engine.name], _timed(engine, batches[engine.name]))
        # Same transfers, same rounds: WASM and pyrevm must agree on every balance.
        wasm, pyrevm = engines[0], engines[1]
        sample = addresses[:: max(1, n_accounts // 50)]
        equal = all(wasm.balance_of(a) == pyrevm.balance_of(a) for a in sample)
        for engine in engines[3:]:  # the native rows ran the same transfers as the WASM one
            equal = equal and all(engine.balance_of(a) == wasm.balance_of(a) for a in sample)
    return Report(
        best["wasm"],
        best["pyrevm"],
        best["pyevm"],
        equal,
        best.get("wasm-native") if native else None,
        best.get("wasm-native-block") if native else None,
        evm_tps=best.get("evm"),
    )


__all__ = ["Report", "encode", "run"]
