"""Ethereum's transaction rules as :class:`TransactionExecutor` applies them."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
import wasmtime
from supervm import Kernel, WorldState
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.processor import (
    CODE_DEPOSIT_GAS,
    BlockEnv,
    TransactionExecutor,
    TransactionResult,
)
from supervm.chain.transactions import (
    Transaction,
    UnsignedTransaction,
    intrinsic_gas,
    sign_transaction,
)
from supervm.execution.wasm_binary import split_create_data, with_end_marker
from supervm.state.addresses import create_address

CHAIN_ID = 31337
COINBASE = bytes.fromhex("c0" * 20)
BASE_FEE = 7
ALICE, BOB = dev_accounts(2)
FUNDS = 10**21

# deploy stores the 32-byte constructor argument under key "v"; call reverts on input "no",
# else stores its input under "v" and logs it.
CONTRACT = """
(module
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "v")
  (func (export "deploy")
    (call $rin (i32.const 64))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 64) (call $ilen))))
  (func (export "call")
    (call $rin (i32.const 64))
    (if (i32.eq (i32.load16_u (i32.const 64)) (i32.const 0x6f6e))
      (then (call $revert (i32.const 64) (i32.const 2))))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 64) (call $ilen)))
    (drop (call $log (i32.const 0) (i32.const 0) (i32.const 64) (call $ilen)))))
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as k:
        yield k


@pytest.fixture
def state(kernel: Kernel) -> WorldState:
    world = WorldState(kernel.open_storage("memory"))
    world.set_balance(ALICE.address, FUNDS)
    return world


@pytest.fixture
def run(kernel: Kernel, state: WorldState):  # type: ignore[no-untyped-def]
    executor = TransactionExecutor(
        kernel, BlockEnv(CHAIN_ID, 1, 1_700_000_000, COINBASE, 30_000_000, BASE_FEE)
    )

    def run_(tx: Transaction) -> TransactionResult:
        return executor(tx, state)

    return run_


def tx(
    nonce: int = 0,
    *,
    to: bytes | None = BOB.address,
    value: int = 0,
    data: bytes = b"",
    gas: int = 21_000,
    tip: int = 2,
    fee_cap: int = 100,
    chain_id: int = CHAIN_ID,
    key: bytes = ALICE.private_key,
) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2, chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=tip,
        max_fee_per_gas=fee_cap, gas=gas, to=to, value=value, data=data,
    )  # fmt: skip
    return sign_transaction(unsigned, key)


def module() -> bytes:
    return bytes(wasmtime.wat2wasm(CONTRACT))


def deploy(run, arg: bytes = b"\x2a" * 32, gas: int = 3_000_000) -> TransactionResult:  # type: ignore[no-untyped-def]
    result: TransactionResult = run(tx(0, to=None, data=with_end_marker(module()) + arg, gas=gas))
    return result


def test_a_value_transfer_pays_exactly_gas_and_value(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    result = run(tx(value=10**18))
    assert result.status == 1 and result.rejected is None
    assert result.gas_used == 21_000
    price = BASE_FEE + 2  # min(fee cap, base fee + tip)
    assert result.effective_gas_price == price
    assert state.balance(ALICE.address) == FUNDS - 10**18 - 21_000 * price
    assert state.balance(BOB.address) == 10**18
    assert state.balance(COINBASE) == 21_000 * 2  # the tip; the base fee is burnt
    assert state.nonce(ALICE.address) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tx(1), "nonce too high"),
        (lambda: tx(value=FUNDS), "insufficient funds for gas * price + value"),
        (lambda: tx(fee_cap=BASE_FEE - 1, tip=1), "max fee per gas less than block base fee"),
        (lambda: tx(chain_id=1), "invalid chain id"),
        (lambda: tx(gas=40_000_000), "gas limit reached"),
    ],
)
def test_rejected_transactions_change_nothing(run, state: WorldState, make, message: str) -> None:  # type: ignore[no-untyped-def]
    before = state.changes()
    result = run(make())
    assert result.rejected is not None and message in result.rejected
    assert result.status == 0 and result.gas_used == 0
    assert state.changes() == before


def test_a_replayed_nonce_is_too_low(run) -> None:  # type: ignore[no-untyped-def]
    assert run(tx(0)).status == 1
    assert "nonce too low" in (run(tx(0)).rejected or "")


def test_an_account_with_code_cannot_send(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    state.set_code(ALICE.address, module())
    assert "sender not an eoa" in (run(tx()).rejected or "")


def test_create_runs_deploy_with_the_arguments_after_the_marker(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    result = deploy(run)
    assert result.status == 1, result.error
    address = create_address(ALICE.address, 0)
    assert result.contract_address == address
    assert state.code(address) == split_create_data(with_end_marker(module()))[0]
    assert state.storage(address, b"v") == b"\x2a" * 32
    assert state.nonce(address) == 1  # EIP-161
    deposit = CODE_DEPOSIT_GAS * len(state.code(address))
    data = with_end_marker(module()) + b"\x2a" * 32
    assert result.gas_used > intrinsic_gas(tx(0, to=None, data=data, gas=3_000_000)) + deposit


def test_code_deposit_out_of_gas_keeps_nonce_and_fee(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    gas = 120_000  # intrinsic and deploy fit (125,761 with the deposit), the deposit does not
    result = deploy(run, gas=gas)
    assert result.status == 0 and result.error is not None
    assert result.error.kind.value == "out_of_gas"
    assert result.gas_used == gas
    assert not state.has_code(create_address(ALICE.address, 0))
    assert state.nonce(ALICE.address) == 1
    assert state.balance(ALICE.address) == FUNDS - gas * (BASE_FEE + 2)


def test_a_call_and_a_reverting_call(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    address = deploy(run).contract_address
    assert address is not None
    ok = run(tx(1, to=address, data=b"hi", gas=100_000))
    assert ok.status == 1 and state.storage(address, b"v") == b"hi"
    assert [log.data for log in ok.logs] == [b"hi"] and ok.logs[0].address == address
    reverted = run(tx(2, to=address, data=b"no", gas=100_000, value=5))
    assert reverted.status == 0 and reverted.error is not None
    assert reverted.error.kind.value == "revert" and reverted.logs == ()
    assert state.storage(address, b"v") == b"hi"  # rolled back
    assert state.balance(address) == 0  # the value went back too
    assert state.nonce(ALICE.address) == 3  # the nonce and the fee stay spent


def test_evm_code_is_refused_with_a_clear_error() -> None:
    """Without an EVM backend (the evm_revm_bridge plugin blocked), EVM bytecode fails."""
    with Kernel.from_plugins(["no:evm_revm_bridge"], env={}) as kernel:
        state = WorldState(kernel.open_storage("memory"))
        state.set_balance(ALICE.address, FUNDS)
        executor = TransactionExecutor(
            kernel, BlockEnv(CHAIN_ID, 1, 1_700_000_000, COINBASE, 30_000_000, BASE_FEE)
        )
        result = executor(tx(0, to=None, data=bytes.fromhex("6080604052"), gas=100_000), state)
    assert result.status == 0 and result.error is not None
    assert "EVM bytecode needs an EVM backend" in result.error.message
    assert result.gas_used == 100_000


def test_a_module_without_the_marker_has_no_arguments() -> None:
    code = module()
    assert split_create_data(code) == (code, b"")
    marked = with_end_marker(code)
    assert with_end_marker(marked) == marked
    assert split_create_data(marked + b"\x00" * 64) == (marked, b"\x00" * 64)


def test_a_signature_that_recovers_no_sender_is_rejected(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    import attrs

    forged = attrs.evolve(tx(), r=5)  # no curve point has x = 5: no key recovers
    result = run(forged)
    assert result.rejected is not None and "invalid signature" in result.rejected
    assert state.nonce(ALICE.address) == 0


def _blob_tx(max_fee_per_blob_gas: int, blobs: int = 2) -> Transaction:
    unsigned = UnsignedTransaction(
        type=3, chain_id=CHAIN_ID, nonce=0, max_priority_fee_per_gas=2, max_fee_per_gas=100,
        gas=21_000, to=BOB.address, value=5, max_fee_per_blob_gas=max_fee_per_blob_gas,
        blob_versioned_hashes=tuple(b"\x01" + bytes([i]) * 31 for i in range(blobs)),
    )  # fmt: skip
    return sign_transaction(unsigned, ALICE.private_key)


def test_a_blob_transaction_burns_its_blob_gas_at_the_blob_base_fee(
    kernel: Kernel, state: WorldState
) -> None:
    # Excess blob gas of 10 update fractions: blob gas costs 22,026 wei (EIP-4844).
    env = BlockEnv(CHAIN_ID, 1, 1_700_000_000, COINBASE, 30_000_000, BASE_FEE)
    executor = TransactionExecutor(kernel, attrs.evolve(env, excess_blob_gas=10 * 3_338_477))
    result = executor(_blob_tx(max_fee_per_blob_gas=30_000), state)
    assert result.status == 1 and result.gas_used == 21_000
    blob_fee = 2 * 2**17 * 22_026
    price = BASE_FEE + 2
    assert state.balance(ALICE.address) == FUNDS - 5 - 21_000 * price - blob_fee
    assert state.balance(COINBASE) == 21_000 * 2  # blob gas is burnt, not paid


def test_a_blob_fee_cap_below_the_blob_base_fee_is_rejected(
    kernel: Kernel, state: WorldState
) -> None:
    env = BlockEnv(CHAIN_ID, 1, 1_700_000_000, COINBASE, 30_000_000, BASE_FEE)
    executor = TransactionExecutor(kernel, attrs.evolve(env, excess_blob_gas=10 * 3_338_477))
    result = executor(_blob_tx(max_fee_per_blob_gas=22_025), state)
    assert result.rejected is not None
    assert "max fee per blob gas less than block blob gas fee" in result.rejected
    assert "blobBaseFee: 22026" in result.rejected
    assert state.balance(ALICE.address) == FUNDS and state.nonce(ALICE.address) == 0


def test_funds_must_cover_the_blob_fee_cap(kernel: Kernel) -> None:
    state = WorldState(kernel.open_storage("memory"))
    blob_cap = 2 * 2**17 * 10
    state.set_balance(ALICE.address, 21_000 * 100 + 5 + blob_cap - 1)
    env = BlockEnv(CHAIN_ID, 1, 1_700_000_000, COINBASE, 30_000_000, BASE_FEE)
    result = TransactionExecutor(kernel, env)(_blob_tx(max_fee_per_blob_gas=10), state)
    assert result.rejected is not None and "insufficient funds" in result.rejected


def test_a_create_without_code_makes_an_empty_contract_account(run, state: WorldState) -> None:  # type: ignore[no-untyped-def]
    """Ethereum's rule (the conformance suite's createContractViaTransactionCost53000): the
    intrinsic gas of a create, an account at the CREATE address with nonce 1 and no code."""
    result = run(tx(0, to=None, value=5, gas=100_000))
    address = create_address(ALICE.address, 0)
    assert result.status == 1 and result.contract_address == address
    assert result.gas_used == 53_000
    assert state.nonce(address) == 1 and state.balance(address) == 5
    assert not state.has_code(address)
