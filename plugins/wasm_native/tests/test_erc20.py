"""The project's AssemblyScript ERC20 on both paths: deployment, then hypothesis-generated call
sequences (transfers, approvals, transferFrom, views, garbage call data, low gas limits), run both
call by call on committed storage and all in one overlay (where earlier calls' additions are
still pending deltas that later reads resolve). Every result and the final state must match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import ExecutionContext, StateOverlay
from supervm.tooling.abi import selector

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "examples" / "contracts" / "erc20-as" / "assembly" / "index.ts"
TOKEN = bytes.fromhex("70" * 20)
DEPLOYER = bytes.fromhex("de" * 20)
ACCOUNTS = [DEPLOYER, bytes.fromhex("a1" * 20), bytes.fromhex("b2" * 20), bytes(20)]
SUPPLY = 10**30


@pytest.fixture(scope="session")
def erc20() -> bytes:
    """The example ERC20, compiled once per session by the project's AssemblyScript compiler."""
    from supervm import CompileSettings
    from supervm_compiler_assemblyscript import AssemblyScriptCompiler

    node_modules = REPO / "node_modules"
    if not (node_modules / "assemblyscript").exists():
        pytest.skip("the contract toolchain is not installed (make install)")
    settings = CompileSettings(optimize=True, node_modules=node_modules)
    (artifact,) = AssemblyScriptCompiler().compile([SOURCE], settings)
    return artifact.bytecode


def hx(a: bytes) -> str:
    return "0x" + a.hex()


def calldata(kind: str, a: int, b: int, amount: int) -> bytes:
    x, y = hx(ACCOUNTS[a]), hx(ACCOUNTS[b])
    if kind == "transfer":
        return selector("transfer(address,uint256)") + encode(["address", "uint256"], [y, amount])
    if kind == "approve":
        return selector("approve(address,uint256)") + encode(["address", "uint256"], [y, amount])
    if kind == "transferFrom":
        return selector("transferFrom(address,address,uint256)") + encode(
            ["address", "address", "uint256"], [x, y, amount]
        )
    if kind == "balanceOf":
        return selector("balanceOf(address)") + encode(["address"], [y])
    if kind == "allowance":
        return selector("allowance(address,address)") + encode(["address", "address"], [x, y])
    return selector(kind + "()")


amounts = st.one_of(
    st.integers(0, 1000), st.sampled_from([10**24, 10**30, 10**30 + 1, 2**256 - 1]),
    st.integers(0, 2**256 - 1),
)  # fmt: skip
index = st.integers(0, len(ACCOUNTS) - 1)
known_call = st.tuples(
    st.sampled_from(["transfer", "transfer", "approve", "transferFrom", "balanceOf", "allowance",
                     "totalSupply", "name", "symbol", "decimals"]),
    index, index, amounts,
).map(lambda t: calldata(*t))  # fmt: skip
garbage = st.one_of(
    st.binary(max_size=80), st.binary(min_size=4, max_size=4).map(lambda s: s + bytes(64))
)
calls = st.lists(
    st.tuples(
        index,
        st.one_of(known_call, known_call, known_call, garbage),
        st.one_of(st.just(1_000_000), st.integers(0, 60_000)),
    ),
    min_size=1,
    max_size=12,
)


def deploy(backend: Any, code: bytes, storage: Any) -> None:
    state = StateOverlay(storage)
    args = encode(["string", "string", "uint256"], ["Token", "TOK", SUPPLY])
    result = backend.execute(code, state, ExecutionContext(caller=DEPLOYER, address=TOKEN),
                             entry="deploy", input=args)  # fmt: skip
    assert result.ok, result.error
    state.commit()
    fund = StateOverlay(storage)
    for who in ACCOUNTS[1:3]:
        data = calldata("transfer", 0, ACCOUNTS.index(who), 10**6)
        assert backend.execute(code, fund, ExecutionContext(caller=DEPLOYER, address=TOKEN),
                               input=data).ok  # fmt: skip
    fund.commit()


def run_sequence(
    backend: Any, code: bytes, storage: Any, sequence: list[Any], one_overlay: bool
) -> list[Any]:
    out = []
    shared = StateOverlay(storage)
    for caller, data, gas in sequence:
        state = shared if one_overlay else StateOverlay(storage)
        context = ExecutionContext(caller=ACCOUNTS[caller], address=TOKEN, gas_limit=gas)
        result = backend.execute(code, state, context, input=data)
        out.append((result, frozenset(state.reads), frozenset(state.writes)))
        if not one_overlay and result.ok:
            state.commit()
    if one_overlay:
        out.append(tuple(shared.changes().items()))
        shared.commit()
    out.append(tuple(storage.iterate()))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=calls, one_overlay=st.booleans())
def test_call_sequences_agree(
    backends: Any, storage_factory: Any, erc20: bytes, sequence: list[Any], one_overlay: bool
) -> None:
    python, native = backends
    assert native.runs_natively(erc20)
    outcomes = []
    for backend in (python, native):
        storage = storage_factory()
        deploy(backend, erc20, storage)
        outcomes.append(run_sequence(backend, erc20, storage, sequence, one_overlay))
    assert outcomes[0] == outcomes[1]


def test_a_transfer_makes_its_documented_effects(
    backends: Any, storage_factory: Any, erc20: bytes
) -> None:
    python, native = backends
    seen = []
    for backend in (python, native):
        storage = storage_factory()
        deploy(backend, erc20, storage)
        seen.append(
            run_sequence(
                backend, erc20, storage, [(1, calldata("transfer", 1, 2, 7), 1_000_000)], True
            )
        )
    assert seen[0] == seen[1]
    result, _reads, _writes = seen[1][0]
    assert result.ok and len(result.logs) == 1 and len(result.logs[0].topics) == 3
    assert len(result.read_set) == 1 and len(result.write_set) == 2  # the credit is an addition


def test_transfer_times_side_by_side(kernel: Any, erc20: bytes) -> None:
    from supervm_wasm_native.bench import erc20_transfer_times

    calls = []

    def fake_pyrevm(batch: Any) -> float:
        calls.append(len(batch))
        return 0.001

    times = erc20_transfer_times(
        kernel, erc20, n_transfers=60, n_accounts=6, rounds=2, pyrevm=fake_pyrevm
    )
    assert times.equal and times.engine == "native"
    assert calls == [60, 60]
    data = times.as_json()
    assert data["native_vs_python"] == round(times.python_us / times.native_us, 2)
    assert data["pyrevm_us"] == round(1e6 * 0.001 / 60, 3)
    with pytest.raises(ValueError, match="two accounts"):
        erc20_transfer_times(kernel, erc20, n_accounts=1)
