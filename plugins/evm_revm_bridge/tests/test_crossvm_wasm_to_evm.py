"""WASM contracts calling EVM contracts (the WASM backend's ``call_contract`` host function),
and EVM → WASM → EVM reentrancy, on the py-evm backend.

The WASM caller is a WAT module: its input is a 20-byte target, a 32-byte value and the
calldata; it calls the target with ``call_contract`` and returns the callee's return data, or
reverts with it when the call fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
import wasmtime
from supervm import Kernel
from supervm.chain.processor import TransactionExecutor
from supervm.chain.transactions import UnsignedTransaction, sign_transaction
from supervm.execution.calls import call_contract
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv, ErrorKind, ExecutionContext, ExecutionResult
from supervm.state.world import WorldState
from supervm_evm_revm_bridge.pyevm_backend import PyEvmBackend
from supervm_evm_revm_bridge.pyevm_testing import WASM_CALLER_WAT, Item, assemble

KEY = b"\x02" * 32
SETTINGS = VMSettings(options={"evm": "pyevm"})
ENV = BlockEnv(chain_id=1337, number=5, timestamp=1_700_000_000, coinbase=bytes(20),
               gas_limit=30_000_000, base_fee=1)  # fmt: skip
FUNDS = 10**21
WASM = bytes.fromhex("0a" * 20)
EVM = bytes.fromhex("0e" * 20)
EVM2 = bytes.fromhex("0f" * 20)

CALLER_WAT = WASM_CALLER_WAT

#: Stores CALLVALUE in slot 0 and calldata word 0 in slot 1, logs topic 9, returns 42.
STORE_EVM = assemble(
    ["CALLVALUE", 0, "SSTORE", 0, "CALLDATALOAD", 1, "SSTORE"],
    [9, 0, 0, "LOG1"],
    [42, 0, "MSTORE", 32, 0, "RETURN"],
)
#: Reverts with "evm says no".
REVERT_EVM = assemble(b"evm says no", 0, "MSTORE", 11, 21, "REVERT")


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def message(target: bytes, calldata: bytes = b"", value: int = 0) -> bytes:
    """The WASM caller's input."""
    return target + word(value) + calldata


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        if not any(f.name == "call_contract" for f in k.host_functions()):
            pytest.skip("the WASM backend has no call_contract host function")
        yield k


@pytest.fixture
def sender() -> bytes:
    from eth_account import Account

    return bytes.fromhex(Account.from_key(KEY).address[2:])


@pytest.fixture
def world(kernel: Kernel, sender: bytes) -> WorldState:
    state = WorldState(kernel.open_storage("memory"))
    state.set_balance(sender, FUNDS)
    state.set_code(WASM, bytes(wasmtime.wat2wasm(CALLER_WAT)))
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


def call_wasm(kernel: Kernel, world: WorldState, sender: bytes, data: bytes) -> ExecutionResult:
    """``sender`` calls the WASM caller through the kernel, as a transaction's call does."""
    frame = ExecutionContext(caller=sender, address=WASM, gas_limit=8_000_000, origin=sender,
                             block_number=ENV.number, timestamp=ENV.timestamp, env=ENV)  # fmt: skip
    return call_contract(kernel.dispatcher(SETTINGS), world, frame, data)


def tx(to: bytes, data: bytes, *, nonce: int = 0, value: int = 0) -> UnsignedTransaction:
    return UnsignedTransaction(type=2, chain_id=ENV.chain_id, nonce=nonce, gas=9_000_000, to=to,
                               max_priority_fee_per_gas=1, max_fee_per_gas=10, value=value,
                               data=data)  # fmt: skip


def test_a_wasm_transaction_calls_an_evm_contract(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    install(world, STORE_EVM)
    signed = sign_transaction(tx(WASM, message(EVM, word(77))), KEY)
    result = TransactionExecutor(kernel, ENV, SETTINGS)(signed, world)
    assert result.error is None, result.error
    assert result.return_data == word(42)
    assert world.storage(EVM, word(1)) == word(77)
    (log,) = result.logs
    assert log.address == EVM and log.topics == (word(9),)
    assert world.depth == 0


def test_value_moves_from_wasm_to_evm(kernel: Kernel, world: WorldState, sender: bytes) -> None:
    install(world, STORE_EVM)
    world.set_balance(WASM, 1000)
    result = call_wasm(kernel, world, sender, message(EVM, word(1), value=250))
    assert result.error is None, result.error
    assert world.storage(EVM, word(0)) == word(250)  # CALLVALUE
    assert world.balance(EVM) == 250 and world.balance(WASM) == 750


def test_an_evm_revert_reaches_the_wasm_caller(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    install(world, REVERT_EVM)
    result = call_wasm(kernel, world, sender, message(EVM))
    assert result.error is not None and result.error.kind is ErrorKind.REVERT
    assert result.return_data == b"evm says no"  # the EVM revert data, passed on by the WASM


def test_a_failed_evm_call_rolls_back_its_value(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    install(world, REVERT_EVM)
    world.set_balance(WASM, 1000)
    # The WASM caller reverts too, so nothing at all remains; the kernel's snapshot drops it.
    result = call_wasm(kernel, world, sender, message(EVM, value=10))
    assert result.error is not None
    assert world.balance(WASM) == 1000 and world.balance(EVM) == 0


def test_a_wasm_contract_reaches_the_precompiles(
    kernel: Kernel, world: WorldState, sender: bytes
) -> None:
    sha256 = bytes(19) + b"\x02"
    result = call_wasm(kernel, world, sender, message(sha256, b"from wasm"))
    assert result.error is None, result.error
    assert result.return_data == hashlib.sha256(b"from wasm").digest()


def test_evm_wasm_evm_reentrancy_shares_the_transactions_transient_storage(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    # EVM: without calldata, return TLOAD(0); with calldata, TSTORE(0, 7), send the calldata
    # to the WASM caller, which calls back into this contract without calldata, and store
    # the word that comes back in slot 0.
    reentrant = assemble(
        "CALLDATASIZE", ":outer", "JUMPI",
        0, "TLOAD", 0, "MSTORE", 32, 0, "RETURN",
        "@outer", 7, 0, "TSTORE",
        "CALLDATASIZE", 0, 0, "CALLDATACOPY",
        32, 0, "CALLDATASIZE", 0, 0, WASM, "GAS", "CALL", 1, "SSTORE",
        0, "MLOAD", 0, "SSTORE", "STOP",
    )  # fmt: skip
    install(world, reentrant)
    result = backend.apply_transaction(tx(EVM, message(EVM)), sender, world, ENV)
    assert result.error is None, result.error
    assert world.storage(EVM, word(1)) == word(1)  # the call into WASM succeeded
    assert world.storage(EVM, word(0)) == word(7)  # the inner EVM frame saw the TSTORE
    assert world.depth == 0


def test_refunds_of_evm_frames_under_a_wasm_call_reach_the_transaction(
    backend: PyEvmBackend, world: WorldState, sender: bytes
) -> None:
    # EVM2 sets slot 0 to CALLDATALOAD(0); EVM calls the WASM caller, which calls EVM2.
    install(world, assemble(0, "CALLDATALOAD", 0, "SSTORE", "STOP"), address=EVM2)
    forward: list[Item] = [
        "CALLDATASIZE",
        0,
        0,
        "CALLDATACOPY",
        0,
        0,
        "CALLDATASIZE",
        0,
        0,
        WASM,
        "GAS",
    ]
    install(world, assemble(forward, "CALL", 0, "SSTORE", "STOP"))
    world.set_storage(EVM2, word(0), word(1))
    world.set_storage(EVM, word(0), word(5))
    clear = backend.apply_transaction(tx(EVM, message(EVM2, word(0))), sender, world, ENV)
    assert clear.error is None and world.storage(EVM2, word(0)) is None
    world.set_storage(EVM2, word(0), word(1))
    world.set_storage(EVM, word(0), word(5))
    keep = backend.apply_transaction(tx(EVM, message(EVM2, word(1)), nonce=1), sender, world, ENV)
    assert keep.error is None and world.storage(EVM2, word(0)) == word(1)
    # Clearing costs 2900 more than rewriting the same value (5000 against 2100 + 100), and
    # earns a 4800 refund: the clearing transaction is cheaper only if the refund arrived.
    # (The two calldatas differ by one non-zero byte: 16 - 4 = 12 gas.)
    assert keep.gas_used - clear.gas_used == 4800 - 2800 + 12
