"""The py-evm backend on a WorldState: transactions, message calls, precompiles, journal.

Bytecode is hand-assembled (``pyevm_testing.assemble``), so each test shows exactly what the
contract does; gas figures that are asserted are worked out by hand in the comments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from supervm import Kernel
from supervm.chain.transactions import UnsignedTransaction
from supervm.crypto import keccak256
from supervm.errors import CallError
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv, ErrorKind, ExecutionContext
from supervm.state.addresses import create2_address, create_address
from supervm.state.keys import balance_key, storage_key
from supervm.state.overlay import StateOverlay
from supervm.state.world import WorldState
from supervm_evm_revm_bridge.pyevm_backend import PRECOMPILES, PyEvmBackend
from supervm_evm_revm_bridge.pyevm_testing import Item, assemble, deployer

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
OTHER = bytes.fromhex("11" * 20)
CONTRACT = bytes.fromhex("c0de" * 10)
COINBASE = bytes.fromhex("cc" * 20)
BASE_FEE = 7
TIP = 2
FUNDS = 10**21
ENV = BlockEnv(
    chain_id=1337,
    number=10,
    timestamp=1_700_000_000,
    coinbase=COINBASE,
    gas_limit=30_000_000,
    base_fee=BASE_FEE,
    prev_randao=b"\x42" * 32,
    block_hashes=tuple(bytes([n]) * 32 for n in range(9, 0, -1)),  # parent (block 9) first
)

#: Stores calldata word 0 in slot 0 and returns 42.
STORE_RUNTIME = assemble(0, "CALLDATALOAD", 0, "SSTORE", 42, 0, "MSTORE", 32, 0, "RETURN")
#: Reverts with the 4 bytes "nope" after writing slot 1.
REVERT_RUNTIME = assemble(1, 1, "SSTORE", b"nope", 0, "MSTORE", 4, 28, "REVERT")


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture
def world(kernel: Kernel) -> WorldState:
    state = WorldState(kernel.open_storage("memory"))
    state.set_balance(SENDER, FUNDS)
    return state


@pytest.fixture
def backend() -> PyEvmBackend:
    return PyEvmBackend(VMSettings())


def tx(
    to: bytes | None,
    data: bytes = b"",
    *,
    nonce: int = 0,
    value: int = 0,
    gas: int = 300_000,
    access_list: tuple[tuple[bytes, tuple[bytes, ...]], ...] = (),
) -> UnsignedTransaction:
    return UnsignedTransaction(
        type=2,
        chain_id=ENV.chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=TIP,
        max_fee_per_gas=100,
        gas=gas,
        to=to,
        value=value,
        data=data,
        access_list=access_list,
    )


def install(world: WorldState, runtime: bytes, address: bytes = CONTRACT) -> bytes:
    world.set_code(address, runtime)
    world.set_nonce(address, 1)
    return address


# -- the backend's surface ------------------------------------------------------------------------


def test_accepts_evm_code_and_refuses_wasm(backend: PyEvmBackend) -> None:
    assert backend.accepts(STORE_RUNTIME)
    assert not backend.accepts(b"\0asm\x01\0\0\0")
    assert not backend.accepts(b"")
    assert backend.exports(STORE_RUNTIME) == frozenset({"call"})
    assert backend.precompiles() == PRECOMPILES
    assert sorted(a[-1] for a in PRECOMPILES) == list(range(1, 11))
    assert all(a[:19] == bytes(19) for a in PRECOMPILES)


def test_execute_refuses_other_entry_points_and_bare_overlays(
    backend: PyEvmBackend, world: WorldState, kernel: Kernel
) -> None:
    context = ExecutionContext(caller=SENDER, address=CONTRACT)
    with pytest.raises(CallError, match="one entry point"):
        backend.execute(STORE_RUNTIME, world, context, entry="deploy")
    with pytest.raises(CallError, match="no integer arguments"):
        backend.execute(STORE_RUNTIME, world, context, args=(1,))
    with pytest.raises(CallError, match="WorldState"):
        backend.execute(STORE_RUNTIME, StateOverlay(kernel.open_storage("memory")), context)


# -- transactions ------------------------------------------------------------------------------


def test_create_then_call_writes_the_world_state(backend: PyEvmBackend, world: WorldState) -> None:
    created = backend.apply_transaction(tx(None, deployer(STORE_RUNTIME)), SENDER, world, ENV)
    assert created.error is None, created.error
    address = create_address(SENDER, 0)
    assert created.contract_address == address
    assert world.code(address) == STORE_RUNTIME
    assert world.nonce(address) == 1  # EIP-161
    assert world.nonce(SENDER) == 1

    called = backend.apply_transaction(tx(address, word(5), nonce=1), SENDER, world, ENV)
    assert called.error is None, called.error
    assert called.return_data == word(42)
    assert world.storage(address, word(0)) == word(5)
    # 21000 + calldata (31 zero bytes * 4 + 1 * 16) + PUSH0, CALLDATALOAD, PUSH0 (7) + a cold
    # SSTORE from zero (2100 + 20000) + PUSH1, PUSH0, MSTORE with one word of memory (11)
    # + PUSH1, PUSH0, RETURN (5).
    assert called.gas_used == 21000 + 140 + 7 + 22100 + 11 + 5
    assert called.effective_gas_price == BASE_FEE + TIP
    assert world.nonce(SENDER) == 2


def test_fees_refund_the_sender_and_credit_the_coinbase_without_reading_it(
    backend: PyEvmBackend, world: WorldState
) -> None:
    install(world, STORE_RUNTIME)
    world.reset_tracking()
    result = backend.apply_transaction(tx(CONTRACT, word(1)), SENDER, world, ENV)
    assert result.error is None
    price = BASE_FEE + TIP
    assert world.balance(SENDER) == FUNDS - result.gas_used * price
    assert world.peek(balance_key(COINBASE)) == (result.gas_used * TIP).to_bytes(32, "little")
    # A commutative credit: written, never read, so no two transactions conflict on it.
    assert balance_key(COINBASE) in world.writes
    assert balance_key(COINBASE) not in world.reads
    assert storage_key(CONTRACT, word(0)) in world.reads | world.writes


def test_a_revert_keeps_the_fee_and_nonce_and_drops_the_rest(
    backend: PyEvmBackend, world: WorldState
) -> None:
    install(world, REVERT_RUNTIME)
    result = backend.apply_transaction(tx(CONTRACT, value=5), SENDER, world, ENV)
    assert result.error is not None and result.error.kind is ErrorKind.REVERT
    assert result.return_data == b"nope"
    assert result.logs == ()
    assert world.storage(CONTRACT, word(1)) is None
    assert world.balance(CONTRACT) == 0  # the value went back with the rollback
    assert world.nonce(SENDER) == 1
    assert world.balance(SENDER) == FUNDS - result.gas_used * (BASE_FEE + TIP)
    assert world.depth == 0


def test_out_of_gas_spends_all_gas(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, assemble("@loop", ":loop", "JUMP"))
    result = backend.apply_transaction(tx(CONTRACT, gas=50_000), SENDER, world, ENV)
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == 50_000


def test_invalid_opcode_is_a_trap(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, b"\xfe")  # INVALID
    result = backend.apply_transaction(tx(CONTRACT, gas=40_000), SENDER, world, ENV)
    assert result.error is not None and result.error.kind is ErrorKind.TRAP
    assert result.gas_used == 40_000


def test_logs_carry_address_topics_and_data(backend: PyEvmBackend, world: WorldState) -> None:
    # LOG2 with topics 7 and CALLER over the 32-byte word 99.
    runtime = assemble(99, 0, "MSTORE", "CALLER", 7, 32, 0, "LOG2", "STOP")
    install(world, runtime)
    result = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    assert result.error is None
    (log,) = result.logs
    assert log.address == CONTRACT
    assert log.topics == (word(7), bytes(12) + SENDER)
    assert log.data == word(99)


def test_clearing_a_slot_is_refunded_with_the_eip3529_cap(
    backend: PyEvmBackend, world: WorldState
) -> None:
    install(world, assemble(0, 0, "SSTORE", "STOP"))
    world.set_storage(CONTRACT, word(0), word(1))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    assert result.error is None
    assert world.storage(CONTRACT, word(0)) is None
    # 21000 + PUSH0, PUSH0 (4) + a cold SSTORE from 1 to 0 (2100 + 2900) = 26004; the refund
    # of 4800 is capped at a fifth of it (5200 > 4800, so all of it).
    assert result.gas_used == 26004 - 4800


def test_value_moves_to_the_contract_and_on_to_others(
    backend: PyEvmBackend, world: WorldState
) -> None:
    # CALL(gas, OTHER, 3 wei, no input, no output); store the success flag in slot 0.
    runtime = assemble(0, 0, 0, 0, 3, OTHER, "GAS", "CALL", 0, "SSTORE", "STOP")
    install(world, runtime)
    result = backend.apply_transaction(tx(CONTRACT, value=10), SENDER, world, ENV)
    assert result.error is None, result.error
    assert world.storage(CONTRACT, word(0)) == word(1)
    assert world.balance(CONTRACT) == 7
    assert world.balance(OTHER) == 3


def test_create_and_create2_from_a_contract(backend: PyEvmBackend, world: WorldState) -> None:
    child = deployer(assemble(1, 0, "MSTORE", 32, 0, "RETURN"))
    # Put the child's init code in memory, then CREATE (slot 0) and CREATE2 salt 5 (slot 1).
    store_code: list[Item] = [child.rjust(32, b"\0")[:32], 0, "MSTORE"] if len(child) <= 32 else []
    assert store_code, "the child's init code must fit one word for this test"
    offset = 32 - len(child)
    runtime = assemble(
        store_code,
        len(child), offset, 0, "CREATE", 0, "SSTORE",
        5, len(child), offset, 0, "CREATE2", 1, "SSTORE",
        "STOP",
    )  # fmt: skip
    install(world, runtime)
    result = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    assert result.error is None, result.error
    first = create_address(CONTRACT, 1)
    second = create2_address(CONTRACT, word(5), child)
    assert world.storage(CONTRACT, word(0)) == bytes(12) + first
    assert world.storage(CONTRACT, word(1)) == bytes(12) + second
    assert world.code(first) == world.code(second) == assemble(1, 0, "MSTORE", 32, 0, "RETURN")
    assert world.nonce(CONTRACT) == 3
    assert world.nonce(first) == world.nonce(second) == 1


def test_selfdestruct_follows_cancun(backend: PyEvmBackend, world: WorldState) -> None:
    # EIP-6780: a contract that existed before the transaction only sends its balance away.
    install(world, assemble(OTHER, "SELFDESTRUCT"))
    world.set_storage(CONTRACT, word(0), word(9))
    world.set_balance(CONTRACT, 50)
    result = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    assert result.error is None
    assert world.balance(OTHER) == 50
    assert world.balance(CONTRACT) == 0
    assert world.code(CONTRACT) != b""
    assert world.storage(CONTRACT, word(0)) == word(9)


def test_selfdestruct_in_the_creating_transaction_deletes_the_account(
    backend: PyEvmBackend, world: WorldState
) -> None:
    # Init code that writes a slot and self-destructs to OTHER: nothing of it remains.
    init = assemble(1, 0, "SSTORE", OTHER, "SELFDESTRUCT")
    result = backend.apply_transaction(tx(None, init, value=8), SENDER, world, ENV)
    assert result.error is None, result.error
    address = create_address(SENDER, 0)
    assert world.is_empty(address)
    assert world.storage(address, word(0)) is None
    assert world.balance(OTHER) == 8


def test_transient_storage_lives_for_one_transaction(
    backend: PyEvmBackend, world: WorldState
) -> None:
    # Store TLOAD(0) in slot 0, then TSTORE(0, 1): a second transaction must still see 0.
    install(world, assemble(0, "TLOAD", 0, "SSTORE", 1, 0, "TSTORE", 0, "TLOAD", 1, "SSTORE"))
    for nonce in range(2):
        result = backend.apply_transaction(tx(CONTRACT, nonce=nonce), SENDER, world, ENV)
        assert result.error is None, result.error
        assert world.storage(CONTRACT, word(0)) is None
        assert world.storage(CONTRACT, word(1)) == word(1)


def test_the_block_environment_reaches_the_opcodes(
    backend: PyEvmBackend, world: WorldState
) -> None:
    opcodes = ["NUMBER", "TIMESTAMP", "COINBASE", "CHAINID", "BASEFEE", "PREVRANDAO", "GASLIMIT"]
    body: list[str | int] = []
    for slot, name in enumerate(opcodes):
        body += [name, slot, "SSTORE"]
    body += [9, "BLOCKHASH", 20, "SSTORE", 2, "BLOCKHASH", 21, "SSTORE", 10, "BLOCKHASH"]
    body += [22, "SSTORE", "ORIGIN", 23, "SSTORE", "GASPRICE", 24, "SSTORE", "STOP"]
    install(world, assemble(body))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    assert result.error is None, result.error
    expected = [ENV.number, ENV.timestamp, int.from_bytes(COINBASE, "big"), ENV.chain_id]
    expected += [BASE_FEE, int.from_bytes(ENV.prev_randao, "big"), ENV.gas_limit]
    for slot, value in enumerate(expected):
        assert world.storage(CONTRACT, word(slot)) == word(value), opcodes[slot]
    assert world.storage(CONTRACT, word(20)) == b"\x09" * 32  # the parent's hash
    assert world.storage(CONTRACT, word(21)) == b"\x02" * 32
    assert world.storage(CONTRACT, word(22)) is None  # the current block has none yet
    assert world.storage(CONTRACT, word(23)) == bytes(12) + SENDER
    assert world.storage(CONTRACT, word(24)) == word(BASE_FEE + TIP)


def test_access_list_slots_are_warm(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, assemble(3, "SLOAD", "POP", "STOP"))
    cold = backend.apply_transaction(tx(CONTRACT), SENDER, world, ENV)
    warm = backend.apply_transaction(
        tx(CONTRACT, nonce=1, access_list=((CONTRACT, (word(3),)),)), SENDER, world, ENV
    )
    assert cold.error is None and warm.error is None
    # The list costs 2400 + 1900 up front and saves a cold SLOAD (2100 - 100 warm).
    assert warm.gas_used - cold.gas_used == 2400 + 1900 - 2000


def test_simulate_buys_and_pays_nothing(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, STORE_RUNTIME)
    result = backend.apply_transaction(tx(CONTRACT, word(3)), SENDER, world, ENV, simulate=True)
    assert result.error is None
    assert result.gas_used > 21000
    assert world.balance(SENDER) == FUNDS
    assert world.peek(balance_key(COINBASE)) is None
    assert world.storage(CONTRACT, word(0)) == word(3)  # left for the caller to drop


def test_a_transaction_to_a_precompile(backend: PyEvmBackend, world: WorldState) -> None:
    identity = bytes(19) + b"\x04"
    result = backend.apply_transaction(tx(identity, b"hello"), SENDER, world, ENV)
    assert result.error is None
    assert result.return_data == b"hello"
    # 21000 + 5 non-zero bytes * 16 + identity's 15 + 3 per word.
    assert result.gas_used == 21000 + 80 + 18


# -- message calls (what a WASM contract's call reaches) -----------------------------------------


def test_execute_runs_a_message_call_without_moving_value(
    backend: PyEvmBackend, world: WorldState
) -> None:
    runtime = assemble("CALLVALUE", 0, "SSTORE", "CALLER", 1, "SSTORE", "STOP")
    install(world, runtime)
    context = ExecutionContext(caller=OTHER, address=CONTRACT, gas_limit=100_000, value=77)
    result = backend.execute(runtime, world, context)
    assert result.error is None, result.error
    assert world.storage(CONTRACT, word(0)) == word(77)
    assert world.storage(CONTRACT, word(1)) == bytes(12) + OTHER
    assert world.balance(CONTRACT) == 0  # call_contract moves value, not the backend
    # No intrinsic gas: CALLVALUE, PUSH0, two cold SSTOREs from zero, CALLER, PUSH1, STOP.
    assert result.gas_used == 2 + 2 + 22100 + 2 + 3 + 22100
    assert storage_key(CONTRACT, word(0)) in result.write_set


def test_execute_rolls_back_a_revert(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, REVERT_RUNTIME)
    context = ExecutionContext(caller=OTHER, address=CONTRACT, gas_limit=100_000)
    result = backend.execute(REVERT_RUNTIME, world, context)
    assert result.error is not None and result.error.kind is ErrorKind.REVERT
    assert result.return_data == b"nope"
    assert world.storage(CONTRACT, word(1)) is None
    assert 0 < result.gas_used < 100_000
    assert world.depth == 0


def test_execute_a_static_call_cannot_write(backend: PyEvmBackend, world: WorldState) -> None:
    install(world, STORE_RUNTIME)
    context = ExecutionContext(caller=OTHER, address=CONTRACT, gas_limit=100_000, static=True)
    result = backend.execute(STORE_RUNTIME, world, context, input=word(1))
    assert result.error is not None and result.error.kind is ErrorKind.TRAP
    assert "write protection" in result.error.message
    assert world.storage(CONTRACT, word(0)) is None


@pytest.mark.parametrize(
    ("precompile", "data", "expected", "gas"),
    [
        (2, b"abc", hashlib.sha256(b"abc").digest(), 60 + 12),
        (3, b"abc", bytes(12) + hashlib.new("ripemd160", b"abc").digest(), 600 + 120),
        (4, b"x" * 40, b"x" * 40, 15 + 3 * 2),
    ],
)
def test_execute_runs_precompiles_for_empty_code(
    backend: PyEvmBackend,
    world: WorldState,
    precompile: int,
    data: bytes,
    expected: bytes,
    gas: int,
) -> None:
    address = bytes(19) + bytes([precompile])
    context = ExecutionContext(caller=OTHER, address=address, gas_limit=100_000)
    result = backend.execute(b"", world, context, input=data)
    assert result.error is None, result.error
    assert result.return_data == expected
    assert result.gas_used == gas


def test_ecrecover_precompile(backend: PyEvmBackend, world: WorldState) -> None:
    import coincurve

    key = coincurve.PrivateKey(b"\x01" * 32)
    signer = keccak256(key.public_key.format(compressed=False)[1:])[12:]
    digest = b"\x07" * 32
    signature = key.sign_recoverable(digest, hasher=None)  # r, s, recovery id
    v = 27 + signature[64]
    data = digest + word(v) + signature[:32] + signature[32:64]
    context = ExecutionContext(caller=OTHER, address=bytes(19) + b"\x01", gas_limit=10_000)
    result = backend.execute(b"", world, context, input=data)
    assert result.error is None
    assert result.return_data == bytes(12) + signer
    assert result.gas_used == 3000


def test_precompile_out_of_gas(backend: PyEvmBackend, world: WorldState) -> None:
    context = ExecutionContext(caller=OTHER, address=bytes(19) + b"\x02", gas_limit=50)
    result = backend.execute(b"", world, context, input=b"abc")
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == 50


def test_snapshots_stay_balanced_across_nested_calls(
    backend: PyEvmBackend, world: WorldState
) -> None:
    # A contract that calls itself (depth 3) and reverts at the bottom; the top succeeds.
    runtime = assemble(
        0, "CALLDATALOAD", "DUP1", "ISZERO", ":bottom", "JUMPI",
        1, "SWAP1", "SUB", 0, "MSTORE",
        0, 0, 32, 0, 0, "ADDRESS", "GAS", "CALL", "POP",
        "CALLDATASIZE", "NUMBER", "SSTORE", "STOP",
        "@bottom", 0, 0, "REVERT",
    )  # fmt: skip
    install(world, runtime)
    depth = world.depth
    result = backend.apply_transaction(tx(CONTRACT, word(3)), SENDER, world, ENV)
    assert result.error is None, result.error
    assert world.depth == depth
    assert world.storage(CONTRACT, word(ENV.number)) == word(32)


def test_a_transaction_py_evm_refuses_changes_nothing(
    backend: PyEvmBackend, world: WorldState
) -> None:
    # The kernel never hands over a transaction whose value exceeds the balance; if one came,
    # py-evm refuses it after buying its gas, and none of that may remain.
    install(world, STORE_RUNTIME)
    result = backend.apply_transaction(tx(CONTRACT, value=FUNDS), SENDER, world, ENV)
    assert result.rejected is not None
    assert world.balance(SENDER) == FUNDS
    assert world.nonce(SENDER) == 0
    assert world.depth == 0
