"""The revm backend's pyrevm sessions: one per chain (storage) and block shape, kept across
world-state objects; what others change, what is not committed and what a simulation changes
never reaches a later transaction's run; simulations may ask for more gas than the block has.

The contract everywhere is ``SSTORE(1, SLOAD(0) + 1)``: its result shows which value of slot 0
the run read, and ``stats["runs"]`` whether a transaction had to run again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from supervm import Kernel, WorldState
from supervm.chain.transactions import UnsignedTransaction
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv
from supervm.state.storage import Storage
from supervm_evm_revm_bridge.revm_backend import RevmBackend

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = bytes.fromhex("cccccccccccccccccccccccccccccccccccccccc")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")
INCREMENT = bytes.fromhex("600054600101600155")  # SSTORE(1, SLOAD(0) + 1)
GASLIMIT = bytes.fromhex("4560005500")  # SSTORE(0, GASLIMIT)
ENV = BlockEnv(chain_id=1, number=1, timestamp=1000, coinbase=COINBASE, gas_limit=30_000_000)
ETHER = 10**18
SLOT0, SLOT1 = bytes(32), (1).to_bytes(32, "big")


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as kernel:
        yield kernel


@pytest.fixture
def storage(kernel: Kernel) -> Storage:
    storage = kernel.open_storage("memory")
    genesis = WorldState(storage)
    genesis.set_balance(SENDER, ETHER)
    genesis.set_code(CONTRACT, INCREMENT)
    genesis.set_storage(CONTRACT, SLOT0, (10).to_bytes(32, "big"))
    genesis.commit()
    return storage


def tx(nonce: int, *, gas: int = 100_000, to: bytes = CONTRACT) -> UnsignedTransaction:
    return UnsignedTransaction(
        type=2, chain_id=1, nonce=nonce, max_priority_fee_per_gas=0, max_fee_per_gas=0,
        gas=gas, to=to,
    )  # fmt: skip


def block(backend: RevmBackend, storage: Storage, nonce: int, *, commit: bool = True) -> int:
    """One transaction in a block of its own (a new world state); slot 1 afterwards."""
    state = WorldState(storage)
    result = backend.apply_transaction(tx(nonce), SENDER, state, ENV)
    assert result.error is None
    written = int.from_bytes(state.storage(CONTRACT, SLOT1) or b"", "big")
    if commit:
        state.commit()
    return written


def bump_slot0(storage: Storage, value: int) -> None:
    """What another engine (a WASM contract, the kernel) commits to the contract's slot 0."""
    other = WorldState(storage)
    other.set_storage(CONTRACT, SLOT0, value.to_bytes(32, "big"))
    other.commit()


def test_a_session_outlives_the_world_state_so_the_steady_state_runs_once(
    storage: Storage,
) -> None:
    backend = RevmBackend(VMSettings())
    assert block(backend, storage, 0) == 11
    runs = backend.stats["runs"]
    for nonce in range(1, 4):  # each block a new WorldState over the same storage
        assert block(backend, storage, nonce) == 11
    assert backend.stats["runs"] == runs + 3  # loaded once, never run again


def test_what_another_engine_committed_between_blocks_is_read(storage: Storage) -> None:
    backend = RevmBackend(VMSettings())
    assert block(backend, storage, 0) == 11
    bump_slot0(storage, 41)
    assert block(backend, storage, 1) == 42


def test_a_block_that_was_not_committed_leaves_nothing_behind(storage: Storage) -> None:
    backend = RevmBackend(VMSettings())
    # SSTORE(0, SLOAD(0) + 1): a write the mirror takes, in a block then dropped.
    state = WorldState(storage)
    state.set_code(CONTRACT, bytes.fromhex("600054600101600055"))
    state.commit()
    state = WorldState(storage)
    assert backend.apply_transaction(tx(0), SENDER, state, ENV).error is None
    assert state.storage(CONTRACT, SLOT0) == (11).to_bytes(32, "big")
    state.discard()  # the block was not imported
    state = WorldState(storage)
    assert backend.apply_transaction(tx(0), SENDER, state, ENV).error is None
    assert state.storage(CONTRACT, SLOT0) == (11).to_bytes(32, "big")  # from 10, not 11


def test_a_simulation_leaves_revms_database_as_the_state_is(storage: Storage) -> None:
    backend = RevmBackend(VMSettings())
    assert block(backend, storage, 0) == 11
    state = WorldState(storage)
    state.set_code(CONTRACT, bytes.fromhex("600054600101600055"))  # SSTORE(0, SLOAD(0) + 1)
    state.commit()
    simulated = WorldState(storage)
    for _ in range(2):  # eth_estimateGas runs a call more than once on fresh states
        result = backend.apply_transaction(tx(1), SENDER, simulated, ENV, simulate=True)
        assert result.error is None
        assert simulated.storage(CONTRACT, SLOT0) == (11).to_bytes(32, "big")
        simulated = WorldState(storage)
    runs = backend.stats["runs"]
    state = WorldState(storage)
    assert backend.apply_transaction(tx(1), SENDER, state, ENV).error is None
    assert state.storage(CONTRACT, SLOT0) == (11).to_bytes(32, "big")
    assert backend.stats["runs"] == runs + 1  # revm's database still held 10: no re-run


def test_a_simulation_may_have_more_gas_than_the_block(storage: Storage) -> None:
    backend = RevmBackend(VMSettings())
    state = WorldState(storage)
    state.set_code(CONTRACT, GASLIMIT)
    state.commit()
    state = WorldState(storage)
    result = backend.apply_transaction(tx(0, gas=50_000_000), SENDER, state, ENV, simulate=True)
    assert result.error is None
    # GASLIMIT reads the lifted limit (geth's reads the block's: documented).
    assert state.storage(CONTRACT, SLOT0) == (50_000_000).to_bytes(32, "big")
    state = WorldState(storage)
    result = backend.apply_transaction(tx(0, gas=1_000_000), SENDER, state, ENV, simulate=True)
    assert state.storage(CONTRACT, SLOT0) == (30_000_000).to_bytes(32, "big")
    # A transaction is held to the block's limit (the kernel refuses it before, too).
    state = WorldState(storage)
    refused = backend.apply_transaction(tx(0, gas=50_000_000), SENDER, state, ENV)
    assert refused.rejected is not None and "CallerGasLimitMoreThanBlock" in refused.rejected


def test_sessions_are_per_storage_and_kept_side_by_side(kernel: Kernel, storage: Storage) -> None:
    backend = RevmBackend(VMSettings())
    assert block(backend, storage, 0) == 11
    other = kernel.open_storage("memory")  # another chain, same chain id and block shape
    genesis = WorldState(other)
    genesis.set_balance(SENDER, ETHER)
    genesis.set_code(CONTRACT, INCREMENT)
    genesis.set_storage(CONTRACT, SLOT0, (5).to_bytes(32, "big"))
    genesis.commit()
    runs = backend.stats["runs"]
    assert block(backend, other, 0) == 6  # a new session: slot 0 unknown, found, run again
    assert block(backend, storage, 1) == 11  # the first chain's session is still there
    assert backend.stats["runs"] == runs + 3
