"""EVM contracts calling WASM contracts, on the py-evm backend, in one world state.

The WASM callee is a small WAT module (assembled with wasmtime's ``wat2wasm``): it stores its
input under the key ``k``, logs it with its caller as the topic and returns it; input starting
with 0xff makes it revert with the input, 0xfe makes it trap. The EVM callers are hand-assembled.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wasmtime
from supervm import Kernel
from supervm.chain.processor import TransactionExecutor
from supervm.chain.transactions import UnsignedTransaction, sign_transaction
from supervm.crypto import keccak256
from supervm.execution.calls import call_contract
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv, ErrorKind, ExecutionContext
from supervm.state.world import WorldState
from supervm_evm_revm_bridge.pyevm_backend import PyEvmBackend
from supervm_evm_revm_bridge.pyevm_testing import Item, assemble

KEY = b"\x01" * 32
SETTINGS = VMSettings(options={"evm": "pyevm"})
COINBASE = bytes.fromhex("cc" * 20)
ENV = BlockEnv(chain_id=1337, number=5, timestamp=1_700_000_000, coinbase=COINBASE,
               gas_limit=30_000_000, base_fee=1)  # fmt: skip
FUNDS = 10**21
WASM = bytes.fromhex("0a" * 20)
EVM = bytes.fromhex("0e" * 20)

CALLEE_WAT = """
(module
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "set_return" (func $set_return (param i32 i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (import "supervm" "storage_set" (func $storage_set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "emit_log" (func $emit_log (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "caller" (func $caller (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func (export "call")
    (local $n i32)
    (local.set $n (call $input_len))
    (call $read_input (i32.const 64))
    (if (i32.eq (i32.load8_u (i32.const 64)) (i32.const 255))
      (then (call $revert (i32.const 64) (local.get $n)) (return)))
    (if (i32.eq (i32.load8_u (i32.const 64)) (i32.const 254))
      (then unreachable))
    (drop (call $storage_set (i32.const 0) (i32.const 1) (i32.const 64) (local.get $n)))
    (call $caller (i32.const 1036))
    (drop (call $emit_log (i32.const 1024) (i32.const 1) (i32.const 64) (local.get $n)))
    (call $set_return (i32.const 64) (local.get $n))))
"""


def forwarder(target: bytes, opcode: str = "CALL", *, propagate: bool = True) -> bytes:
    """EVM code that sends its calldata (and value) to ``target`` with ``opcode``.

    It records the call's success in slot 0 and the return data's size in slot 1; with
    ``propagate`` it then returns the callee's return data, or reverts with it.
    """
    value: list[Item] = ["CALLVALUE"] if opcode in ("CALL", "CALLCODE") else []
    call: list[Item] = [0, 0, "CALLDATASIZE", 0, *value, target, "GAS", opcode]
    record: list[Item] = ["DUP1", 0, "SSTORE", "RETURNDATASIZE", 1, "SSTORE"]
    if not propagate:
        return assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", call, record, "STOP")
    finish: list[Item] = ["RETURNDATASIZE", 0, 0, "RETURNDATACOPY", ":ok", "JUMPI",
              "RETURNDATASIZE", 0, "REVERT", "@ok", "RETURNDATASIZE", 0, "RETURN"]  # fmt: skip
    return assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", call, record, finish)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture
def sender() -> bytes:
    from eth_account import Account

    return bytes.fromhex(Account.from_key(KEY).address[2:])


@pytest.fixture
def world(kernel: Kernel, sender: bytes) -> WorldState:
    state = WorldState(kernel.open_storage("memory"))
    state.set_balance(sender, FUNDS)
    state.set_code(WASM, bytes(wasmtime.wat2wasm(CALLEE_WAT)))
    state.set_nonce(WASM, 1)
    return state


@pytest.fixture
def backend(kernel: Kernel) -> PyEvmBackend:
    backend = kernel.vm("evm", SETTINGS)
    assert isinstance(backend, PyEvmBackend)
    return backend


def install(world: WorldState, code: bytes, address: bytes = EVM) -> bytes:
    world.set_code(address, code)
    world.set_nonce(address, 1)
    return address


def tx(
    to: bytes, data: bytes = b"", *, nonce: int = 0, value: int = 0, gas: int = 2_000_000
) -> UnsignedTransaction:
    return UnsignedTransaction(type=2, chain_id=ENV.chain_id, nonce=nonce, gas=gas, to=to,
                               max_priority_fee_per_gas=1, max_fee_per_gas=10, value=value,
                               data=data)  # fmt: skip


def test_an_evm_contract_calls_a_wasm_contract_and_gets_its_return_data(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM))
    signed = sign_transaction(tx(EVM, b"hello wasm"), KEY)
    result = TransactionExecutor(kernel, ENV, SETTINGS)(signed, world)
    assert result.error is None, result.error
    assert result.return_data == b"hello wasm"
    assert world.storage(WASM, b"k") == b"hello wasm"  # WASM storage: raw key and value
    assert world.storage(EVM, (0).to_bytes(32, "big")) == (1).to_bytes(32, "big")
    (log,) = result.logs
    assert log.address == WASM
    assert log.topics == (bytes(12) + EVM,)  # the WASM callee saw the EVM contract as caller
    assert log.data == b"hello wasm"
    assert world.nonce(sender) == 1
    assert world.depth == 0


def test_a_wasm_revert_propagates_and_rolls_everything_back(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM))
    data = b"\xffno thanks"
    result = backend.apply_transaction(tx(EVM, data, value=500), sender, world, ENV)
    assert result.error is not None and result.error.kind is ErrorKind.REVERT
    assert result.return_data == data
    assert result.logs == ()
    assert world.storage(WASM, b"k") is None
    assert world.storage(EVM, (0).to_bytes(32, "big")) is None
    assert world.balance(EVM) == world.balance(WASM) == 0
    assert world.balance(sender) == FUNDS - result.gas_used * ENV.base_fee - result.gas_used


def test_a_caught_wasm_revert_keeps_the_callers_state_and_drops_the_callees(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM, propagate=False))
    result = backend.apply_transaction(tx(EVM, b"\xff" * 5), sender, world, ENV)
    assert result.error is None, result.error
    assert world.storage(EVM, (0).to_bytes(32, "big")) is None  # success flag 0
    assert world.storage(EVM, (1).to_bytes(32, "big")) == (5).to_bytes(32, "big")  # revert data
    assert world.storage(WASM, b"k") is None
    assert result.logs == ()


def test_a_wasm_trap_burns_the_calls_gas_and_leaves_no_return_data(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM, propagate=False))
    reverted = backend.apply_transaction(tx(EVM, b"\xff" * 4), sender, world, ENV)
    trapped = backend.apply_transaction(tx(EVM, b"\xfe" * 4, nonce=1), sender, world, ENV)
    assert reverted.error is None and trapped.error is None
    assert world.storage(EVM, (1).to_bytes(32, "big")) is None  # no return data after a trap
    # The trap spends the whole 63/64 of the gas the callee got; the revert only what it used.
    assert trapped.gas_used > 1_900_000 > 100_000 > reverted.gas_used


def test_value_moves_with_the_call_and_back_on_failure(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM, propagate=False))
    ok = backend.apply_transaction(tx(EVM, b"pay", value=1000), sender, world, ENV)
    assert ok.error is None
    assert world.balance(WASM) == 1000 and world.balance(EVM) == 0
    failed = backend.apply_transaction(tx(EVM, b"\xff", nonce=1, value=300), sender, world, ENV)
    assert failed.error is None  # caught by the forwarder
    assert world.balance(WASM) == 1000 and world.balance(EVM) == 300


def test_the_wasm_callees_gas_is_charged_to_the_transaction(
    kernel: Kernel, backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    empty = bytes.fromhex("0d" * 20)  # an account without code: the call itself costs the same
    install(world, forwarder(WASM, propagate=False))
    install(world, forwarder(empty, propagate=False), address=bytes.fromhex("0f" * 20))
    # What the WASM callee costs on its own, measured through the kernel on a scratch state.
    scratch = WorldState(kernel.open_storage("memory"))
    scratch.set_code(WASM, world.code(WASM))
    frame = ExecutionContext(caller=EVM, address=WASM, gas_limit=1_000_000, depth=1, env=ENV)
    alone = call_contract(kernel.dispatcher(SETTINGS), scratch, frame, b"gas!")
    assert alone.error is None and alone.gas_used > 0
    to_wasm = backend.apply_transaction(tx(EVM, b"gas!"), sender, world, ENV)
    to_empty = backend.apply_transaction(
        tx(bytes.fromhex("0f" * 20), b"gas!", nonce=1), sender, world, ENV
    )
    assert to_wasm.error is None and to_empty.error is None
    # Both store the success flag 1 alike; slot 1 gets the return data's size, 4 from WASM
    # (a cold SSTORE from zero: 22100) and 0 from the empty account (cold, unchanged: 2200).
    assert to_wasm.gas_used - to_empty.gas_used == alone.gas_used + 22100 - 2200


def test_extcodesize_and_extcodehash_of_a_wasm_contract_are_real(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, assemble(WASM, "EXTCODESIZE", 0, "SSTORE", WASM, "EXTCODEHASH", 1, "SSTORE"))
    result = backend.apply_transaction(tx(EVM), sender, world, ENV)
    assert result.error is None
    code = world.code(WASM)
    assert world.storage(EVM, (0).to_bytes(32, "big")) == len(code).to_bytes(32, "big")
    assert world.storage(EVM, (1).to_bytes(32, "big")) == keccak256(code)


def test_a_static_call_into_wasm_cannot_write(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM, "STATICCALL", propagate=False))
    result = backend.apply_transaction(tx(EVM, b"write"), sender, world, ENV)
    assert result.error is None
    assert world.storage(EVM, (0).to_bytes(32, "big")) is None  # the static call failed
    assert world.storage(WASM, b"k") is None


def test_a_delegate_call_runs_wasm_code_on_the_callers_storage(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    install(world, forwarder(WASM, "DELEGATECALL"))
    result = backend.apply_transaction(tx(EVM, b"mine"), sender, world, ENV)
    assert result.error is None, result.error
    assert world.storage(EVM, b"k") == b"mine"
    assert world.storage(WASM, b"k") is None
    (log,) = result.logs
    assert log.address == EVM and log.topics == (bytes(12) + sender,)


def test_on_the_default_pyrevm_engine_every_transaction_reaches_wasm(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    """pyrevm cannot run WASM code: each transaction that reaches a WASM account is handed to
    py-evm whole, the first and every later one (its session lasts across transactions)."""
    install(world, forwarder(WASM))
    executor = TransactionExecutor(kernel, ENV, VMSettings())  # the default: pyrevm
    for nonce in range(3):
        data = b"round %d" % nonce
        result = executor(sign_transaction(tx(EVM, data, nonce=nonce), KEY), world)
        assert result.error is None, (nonce, result.error)
        assert result.return_data == data
        assert world.storage(WASM, b"k") == data
    assert world.nonce(sender) == 3
