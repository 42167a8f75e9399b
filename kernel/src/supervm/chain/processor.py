"""Applying one signed transaction to the world state, by Ethereum's rules.

:class:`TransactionExecutor` is the :class:`~supervm.execution.interfaces.Executor` the block
pipeline hands a scheduler: each call checks the transaction against the state (nonce, funds,
fee cap), buys its gas, bumps the nonce, runs it, refunds unused gas and pays the block's fee
recipient. Which engine runs is chosen by the code at the target address (WASM code starts with
``\\0asm``), through :class:`~supervm.execution.dispatch.Dispatcher`.

A transaction that cannot be included (wrong nonce, too little balance, a fee cap below the base
fee) changes nothing and comes back with :attr:`TransactionResult.rejected` set; one that runs and
fails (a revert, a trap, out of gas) is included with status 0: its nonce and fee stay spent,
everything else it did is rolled back.

Gas: intrinsic gas as Ethereum charges it, then the engine's own gas one for one (for WASM: fuel
plus the host ABI's prices), then, for a create, 200 gas per byte of deployed code as EIP-170's
code deposit charges EVM code. The fee recipient is credited with a commutative addition, so
that paying it never makes two transactions of a block conflict (Block-STM's lesson).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from supervm.chain.transactions import (
    Transaction,
    TransactionError,
    UnsignedTransaction,
    effective_gas_price,
    fee_cap,
    intrinsic_gas,
)
from supervm.errors import CallError, ModuleError, UnknownImplementationError
from supervm.execution.interfaces import ExecutorSpec, VMSettings
from supervm.execution.wasm_binary import WasmFormatError, split_create_data
from supervm.model import (
    ErrorKind,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    positional_pickle,
)
from supervm.state.addresses import create_address
from supervm.state.keys import code_hash_key
from supervm.state.overlay import StateOverlay
from supervm.state.world import MAX_NONCE, WorldState

if TYPE_CHECKING:
    from supervm.kernel import Kernel

#: Gas per byte of code a create stores (EIP-170's code deposit cost).
CODE_DEPOSIT_GAS = 200
#: The export a WASM create runs once with the constructor arguments, if the module has it.
DEPLOY_ENTRY = "deploy"
#: The export a call to a WASM contract runs; the calldata is its input.
CALL_ENTRY = "call"


@attrs.frozen
class BlockEnv:
    """What a transaction sees of the block it runs in.

    :param chain_id: the chain's EIP-155 id; transactions for another chain are rejected.
    :param number: the block's height.
    :param timestamp: the block's time, seconds since the Unix epoch.
    :param coinbase: the fee recipient.
    :param gas_limit: the block's gas limit.
    :param base_fee: the block's EIP-1559 base fee per gas, in wei (burnt).
    :param prev_randao: the block's mix hash.
    """

    chain_id: int
    number: int
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: int = 0
    prev_randao: bytes = bytes(32)


@positional_pickle
@attrs.frozen
class TransactionResult(ExecutionResult):
    """What executing a transaction produced, as its receipt reports it.

    ``gas_used`` is the transaction's gas after the refund, ``logs`` its logs (empty if it
    failed), ``error`` why it failed (status 0). The result of an excluded transaction has
    ``rejected`` set and changed nothing.

    :param contract_address: the address a successful create made.
    :param effective_gas_price: the price per gas the sender paid.
    :param rejected: why the transaction cannot be included in the block, if it cannot.
    """

    contract_address: bytes | None = None
    effective_gas_price: int = 0
    rejected: str | None = None

    @property
    def status(self) -> int:
        """The receipt status: 1 if the transaction succeeded, 0 if it failed."""
        return 1 if self.error is None else 0


class TransactionRejected(Exception):
    """A transaction that cannot be included; the message is geth's wording where it has one."""


class TransactionExecutor:
    """Executes signed transactions in one block's environment."""

    def __init__(self, kernel: Kernel, env: BlockEnv, settings: VMSettings | None = None) -> None:
        self._kernel = kernel
        self._settings = settings
        self.env = env
        self.dispatcher = kernel.dispatcher(settings)
        self._codes: dict[bytes, bytes] = {}

    @property
    def kernel(self) -> Kernel:
        """The kernel whose backends execute the transactions."""
        return self._kernel

    @property
    def settings(self) -> VMSettings | None:
        """The VM settings contracts run with (``None``: the defaults)."""
        return self._settings

    def spec(self) -> ExecutorSpec:
        """How a worker process builds this executor again: the block's environment and the
        VM settings, both plain records."""
        return ExecutorSpec(TransactionExecutor, (self.env, self._settings))

    def __call__(self, tx: Transaction, state: StateOverlay, /) -> TransactionResult:
        if not isinstance(state, WorldState):
            raise TypeError("transactions execute on a WorldState")
        intrinsic = intrinsic_gas(tx)
        try:
            price, balance = self._check(tx, state, intrinsic)
        except (TransactionRejected, TransactionError) as exc:  # the latter: no sender recovers
            message = str(exc)
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, message), rejected=message
            )
        sender = tx.sender
        state.set_balance(sender, balance - tx.gas * price)  # buy the gas
        state.set_nonce(sender, tx.nonce + 1)  # the nonce was checked equal to the state's
        available = tx.gas - intrinsic
        result, created = self._run(tx, sender, state, available)
        gas_used = tx.gas - available + min(result.gas_used, available)
        state.credit(sender, (tx.gas - gas_used) * price)
        state.credit(self.env.coinbase, gas_used * (price - self.env.base_fee))
        return _result(result, gas_used, price, created)

    def simulate(
        self, tx: UnsignedTransaction, sender: bytes, state: WorldState
    ) -> TransactionResult:
        """Run ``tx`` as if ``sender`` had signed it, for ``eth_call`` and ``eth_estimateGas``.

        Nothing is checked that only a signature or the block's inclusion rules need: not the
        nonce, the chain id, the fee cap against the base fee, nor the funds for gas. The value
        must be covered by the balance, the gas must cover the intrinsic gas, and a create gets
        the address the sender's current nonce gives. Gas is not bought, refunded or paid to the
        fee recipient; the changes stay in ``state`` for the caller to drop.
        """
        intrinsic = intrinsic_gas(tx)
        if tx.gas < intrinsic:
            message = f"intrinsic gas too low: have {tx.gas}, want {intrinsic}"
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, message), rejected=message
            )
        balance = state.balance(sender)
        if balance < tx.value:
            message = (
                f"insufficient funds for transfer: address 0x{sender.hex()} have {balance} "
                f"want {tx.value}"
            )
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, message), rejected=message
            )
        nonce = state.nonce(sender)
        if tx.nonce != nonce:
            tx = attrs.evolve(tx, nonce=nonce)
        available = tx.gas - intrinsic
        result, created = self._run(tx, sender, state, available)
        gas_used = tx.gas - available + min(result.gas_used, available)
        return _result(result, gas_used, effective_gas_price(tx, self.env.base_fee), created)

    def _run(
        self, tx: UnsignedTransaction, sender: bytes, state: WorldState, available: int
    ) -> tuple[ExecutionResult, bytes | None]:
        """Execute the call or create itself, undoing its changes if it fails."""
        if tx.to is not None and not tx.value:
            # Nothing to undo beyond what the backend itself rolls back on failure.
            return self._call(tx, sender, tx.to, state, available), None
        state.snapshot()
        created = None
        try:
            if tx.to is None:
                result, created = self._create(tx, sender, state, available)
            else:
                result = self._call(tx, sender, tx.to, state, available)
        except BaseException:
            state.rollback_snapshot()
            raise
        if result.error is None:
            state.commit_snapshot()
        else:
            state.rollback_snapshot()
        return result, created

    # -- checks -----------------------------------------------------------------------------

    def _check(self, tx: Transaction, state: WorldState, intrinsic: int) -> tuple[int, int]:
        """The effective gas price and the sender's balance, if the transaction is includable."""
        env = self.env
        if tx.chain_id is not None and tx.chain_id != env.chain_id:
            raise TransactionRejected(
                f"invalid chain id: transaction for chain {tx.chain_id}, this chain is "
                f"{env.chain_id}"
            )
        sender = tx.sender
        expected = state.nonce(sender)
        if tx.nonce < expected:
            raise TransactionRejected(
                f"nonce too low: address 0x{sender.hex()}, tx: {tx.nonce} state: {expected}"
            )
        if tx.nonce > expected:
            raise TransactionRejected(
                f"nonce too high: address 0x{sender.hex()}, tx: {tx.nonce} state: {expected}"
            )
        if expected >= MAX_NONCE:
            raise TransactionRejected(f"nonce has max value: address 0x{sender.hex()}")
        if state.has_code(sender):
            raise TransactionRejected(  # EIP-3607
                f"sender not an eoa: address 0x{sender.hex()}, codehash: "
                f"0x{state.code_hash(sender).hex()}"
            )
        if tx.gas > env.gas_limit:
            raise TransactionRejected(
                f"gas limit reached: transaction gas {tx.gas} above the block's {env.gas_limit}"
            )
        if tx.gas < intrinsic:
            raise TransactionRejected(f"intrinsic gas too low: have {tx.gas}, want {intrinsic}")
        cap = fee_cap(tx)
        if cap < env.base_fee:
            raise TransactionRejected(
                f"max fee per gas less than block base fee: address 0x{sender.hex()}, "
                f"maxFeePerGas: {cap}, baseFee: {env.base_fee}"
            )
        balance = state.balance(sender)
        cost = tx.gas * cap + tx.value
        if balance < cost:
            raise TransactionRejected(
                f"insufficient funds for gas * price + value: address 0x{sender.hex()} have "
                f"{balance} want {cost}"
            )
        return effective_gas_price(tx, env.base_fee), balance

    # -- running ----------------------------------------------------------------------------

    def _context(self, caller: bytes, address: bytes, gas: int) -> ExecutionContext:
        return ExecutionContext(
            block_number=self.env.number,
            timestamp=self.env.timestamp,
            caller=caller,
            address=address,
            gas_limit=gas,
        )

    def _call(
        self, tx: UnsignedTransaction, sender: bytes, to: bytes, state: WorldState, gas: int
    ) -> ExecutionResult:
        if tx.value:
            state.transfer(sender, to, tx.value)
        code_hash = state.get(code_hash_key(to))
        if code_hash is None:
            return _EMPTY  # a plain value transfer
        # Code never changes under its hash: keep one bytes object per contract, whose hash
        # Python then caches (the module cache is keyed by the code, often 10 KB or more).
        code = self._codes.get(code_hash)
        if code is None:
            code = state.code_by_hash(code_hash) or b""
            self._codes[code_hash] = code
        try:
            backend = self.dispatcher.backend_for(code)
            return backend.execute(
                code, state, self._context(sender, to, gas), entry=CALL_ENTRY, input=tx.data
            )
        except (ModuleError, CallError, UnknownImplementationError) as exc:
            return _failed(exc, gas)

    def _create(
        self, tx: UnsignedTransaction, sender: bytes, state: WorldState, gas: int
    ) -> tuple[ExecutionResult, bytes | None]:
        address = create_address(sender, tx.nonce)
        if state.has_code(address) or state.nonce(address):
            return _failed(CallError(f"contract address collision at 0x{address.hex()}"), gas), None
        if tx.value:
            state.transfer(sender, address, tx.value)
        state.set_nonce(address, 1)  # EIP-161: a new contract starts at nonce 1
        try:
            backend = self.dispatcher.backend_for(tx.data)
            module, arguments = split_create_data(tx.data)
            has_deploy = DEPLOY_ENTRY in backend.exports(module)  # validates the module
            result = _EMPTY
            if has_deploy:
                context = self._context(sender, address, gas)
                result = backend.execute(
                    module, state, context, entry=DEPLOY_ENTRY, input=arguments
                )
        except (ModuleError, CallError, UnknownImplementationError, WasmFormatError) as exc:
            return _failed(exc, gas), None
        if result.error is not None:
            return result, None
        deposit = CODE_DEPOSIT_GAS * len(module)
        if result.gas_used + deposit > gas:
            message = f"out of gas: storing {len(module)} bytes of code costs {deposit} gas"
            failed = ExecutionResult(
                gas_used=gas, error=ExecutionError(ErrorKind.OUT_OF_GAS, message)
            )
            return failed, None
        state.set_code(address, module)
        return attrs.evolve(result, gas_used=result.gas_used + deposit), address


def _result(
    result: ExecutionResult, gas_used: int, price: int, created: bytes | None
) -> TransactionResult:
    failed = result.error is not None
    return TransactionResult(
        return_data=result.return_data,
        events=() if failed else result.events,
        logs=() if failed else result.logs,
        gas_used=gas_used,
        error=result.error,
        contract_address=None if failed else created,
        effective_gas_price=price,
    )


_EMPTY = ExecutionResult()


def _failed(exc: Exception, gas: int) -> ExecutionResult:
    """A transaction whose code cannot run at all: it fails and its gas is spent."""
    invalid_module = isinstance(exc, ModuleError | WasmFormatError)
    kind = ErrorKind.INVALID_MODULE if invalid_module else ErrorKind.INVALID_CALL
    return ExecutionResult(gas_used=gas, error=ExecutionError(kind, str(exc)))


__all__ = [
    "CODE_DEPOSIT_GAS",
    "BlockEnv",
    "TransactionExecutor",
    "TransactionRejected",
    "TransactionResult",
]
