"""The cross-VM cost benchmark runs every kind of transfer it reports, and they succeed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from supervm import Kernel
from supervm.tooling.compilers import CompileSettings
from supervm_evm_revm_bridge.pyevm_bench import measure

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "contracts"


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


def _compile(kernel: Kernel, compiler: str, paths: list[Path], name: str) -> bytes:
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    try:
        artifacts = (
            kernel.compilers().get(compiler).compile(paths, CompileSettings(known_imports=known))
        )
    except Exception as exc:  # no Node.js or npm toolchain here: say so and skip
        pytest.skip(f"cannot compile the {name} example here: {exc}")
    return next(a.bytecode for a in artifacts if a.name == name)


@pytest.mark.slow
@pytest.mark.ci_only  # compiles two toolchains' contracts: about 25 s
def test_every_kind_of_transfer_runs(kernel: Kernel) -> None:
    solidity = _compile(
        kernel, "solc", sorted((EXAMPLES / "erc20-sol" / "contracts").glob("*.sol")), "ERC20Token"
    )
    sources = sorted((EXAMPLES / "erc20-as" / "assembly").glob("*.ts"))
    wasm = _compile(kernel, "assemblyscript", sources, "ERC20")
    assert wasm[:4] == b"\0asm"
    rows = measure(kernel, solidity, wasm, 3)
    assert [r.label for r in rows] == [
        "Solidity ERC20 transfer, py-evm",
        "Solidity ERC20 transfer, revm",
        "AssemblyScript ERC20 transfer, WASM",
        "EVM contract calls the WASM ERC20",
        "WASM contract calls the Solidity ERC20",
    ]
    assert all(r.transactions == 3 and r.gas > 21_000 and r.micros > 0 for r in rows)
    by_label = {r.label: r.gas for r in rows}
    # The same token and transfer cost the same gas on either EVM engine.
    assert by_label["Solidity ERC20 transfer, py-evm"] == by_label["Solidity ERC20 transfer, revm"]
