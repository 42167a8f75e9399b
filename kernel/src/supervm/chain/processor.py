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

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from supervm.chain.transactions import (
    BLOB_TX_TYPE,
    Transaction,
    TransactionError,
    UnsignedTransaction,
    blob_base_fee,
    effective_gas_price,
    fee_cap,
    intrinsic_gas,
)
from supervm.errors import CallError, ModuleError, UnknownImplementationError
from supervm.execution.interfaces import ExecutorSpec, VMSettings
from supervm.execution.wasm_binary import WasmFormatError, split_create_data
from supervm.model import (
    BlockEnv,
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


@runtime_checkable
class TransactionEngine(Protocol):
    """An execution backend that applies whole Ethereum transactions by itself (an EVM).

    The kernel's own rules (below) are enough for WASM contracts, whose gas the host ABI prices.
    An EVM has rules of its own in every step of a transaction: warm and cold accounts from the
    start (EIP-2929: sender, target, precompiles, coinbase, the access list), storage refunds
    capped at a fifth of the gas used (EIP-3529), the code deposit and its limits, EIP-161's
    empty accounts. revm and py-evm implement all of them, so a transaction whose target holds
    EVM code, or a create whose init code is not WebAssembly, or a call to one of an engine's
    :meth:`~supervm.execution.interfaces.ExecutionBackend.precompiles`, is handed to the engine
    whole once the kernel has checked it can be included (:meth:`TransactionExecutor._check`:
    the same checks and messages for every engine).
    """

    def apply_transaction(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        state: WorldState,
        env: BlockEnv,
        *,
        simulate: bool = False,
    ) -> TransactionResult:
        """Apply ``tx`` signed by ``sender`` to ``state`` in the block ``env``.

        Without ``simulate``: the kernel has checked the transaction can be included (nonce,
        chain id, funds for ``gas * fee cap + value``, fee cap against the base fee, intrinsic
        gas, gas within the block's); the engine buys the gas, bumps the nonce, runs the call
        or create, refunds unused gas, pays the coinbase its tip (as a commutative
        :meth:`~supervm.state.world.WorldState.credit` where it can) and returns the receipt's
        facts. A failed run is status 0 with the nonce and fee spent. A blob transaction
        (type 3) also burns ``tx.blob_gas`` at the block's blob base fee
        (:func:`~supervm.chain.transactions.blob_base_fee` of ``env.excess_blob_gas``).
        With ``simulate`` (``eth_call``, ``eth_estimateGas``): nothing is bought, refunded or
        paid and the nonce is not checked; the changes stay in ``state`` for the caller to
        drop.

        :param tx: the transaction (signed or not: the sender is given).
        :param sender: the account that signed it.
        :param state: the state it applies to; the engine reads and writes only through it.
        :param env: the block's environment.
        :param simulate: run as ``eth_call`` does, without the transaction's payments.
        """
        ...


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
        engine, code_hash = self._engine_for(tx, state)
        if engine is not None:
            return engine.apply_transaction(tx, sender, state, self.env)
        # Buy the gas, and burn the blob gas (EIP-4844) at the block's blob price.
        state.set_balance(sender, balance - tx.gas * price - self._blob_fee(tx))
        state.set_nonce(sender, tx.nonce + 1)  # the nonce was checked equal to the state's
        available = tx.gas - intrinsic
        result, created = self._run(tx, sender, state, available, code_hash)
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
        engine, code_hash = self._engine_for(tx, state)
        if engine is not None:
            return engine.apply_transaction(tx, sender, state, self.env, simulate=True)
        available = tx.gas - intrinsic
        result, created = self._run(tx, sender, state, available, code_hash)
        gas_used = tx.gas - available + min(result.gas_used, available)
        return _result(result, gas_used, effective_gas_price(tx, self.env.base_fee), created)

    def _run(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        state: WorldState,
        available: int,
        code_hash: bytes | None,
    ) -> tuple[ExecutionResult, bytes | None]:
        """Execute the call or create itself, undoing its changes if it fails.

        :param code_hash: the target's code hash as :meth:`_engine_for` read it (``None``: no
            code, a plain value transfer).
        """
        if tx.to is not None and not tx.value:
            # Nothing to undo beyond what the backend itself rolls back on failure.
            return self._call(tx, sender, tx.to, state, available, code_hash), None
        state.snapshot()
        created = None
        try:
            if tx.to is None:
                result, created = self._create(tx, sender, state, available)
            else:
                result = self._call(tx, sender, tx.to, state, available, code_hash)
        except BaseException:
            state.rollback_snapshot()
            raise
        if result.error is None:
            state.commit_snapshot()
        else:
            state.rollback_snapshot()
        return result, created

    def _engine_for(
        self, tx: UnsignedTransaction, state: WorldState
    ) -> tuple[TransactionEngine | None, bytes | None]:
        """The engine that applies ``tx`` whole, if its code is not the kernel's to run, and
        the target's code hash (read once per transaction: the kernel's call path reuses it)."""
        if tx.to is None:
            code = tx.data
            if code[:4] == b"\0asm" or not code:
                return None, None
            code_hash = None
        else:
            code_hash = state.get(code_hash_key(tx.to))
            if code_hash is None:
                backend = self.dispatcher.backend_for_precompile(tx.to)
                return (backend if isinstance(backend, TransactionEngine) else None), None
            code = self._code(code_hash, state)
        for backend in self.dispatcher.backends():
            if backend.accepts(code):
                engine = backend if isinstance(backend, TransactionEngine) else None
                return engine, code_hash
        return None, code_hash

    def _code(self, code_hash: bytes, state: WorldState) -> bytes:
        # Code never changes under its hash: keep one bytes object per contract, whose hash
        # Python then caches (the module cache is keyed by the code, often 10 KB or more).
        code = self._codes.get(code_hash)
        if code is None:
            code = state.code_by_hash(code_hash) or b""
            self._codes[code_hash] = code
        return code

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
        if tx.type == BLOB_TX_TYPE:
            assert tx.max_fee_per_blob_gas is not None
            blob_price = blob_base_fee(env.excess_blob_gas or 0)
            if tx.max_fee_per_blob_gas < blob_price:
                raise TransactionRejected(
                    f"max fee per blob gas less than block blob gas fee: address "
                    f"0x{sender.hex()} blobGasFeeCap: {tx.max_fee_per_blob_gas}, "
                    f"blobBaseFee: {blob_price}"
                )
        balance = state.balance(sender)
        cost = tx.gas * cap + tx.value + tx.blob_gas * (tx.max_fee_per_blob_gas or 0)
        if balance < cost:
            raise TransactionRejected(
                f"insufficient funds for gas * price + value: address 0x{sender.hex()} have "
                f"{balance} want {cost}"
            )
        return effective_gas_price(tx, env.base_fee), balance

    def _blob_fee(self, tx: UnsignedTransaction) -> int:
        if tx.type != BLOB_TX_TYPE:
            return 0
        return tx.blob_gas * blob_base_fee(self.env.excess_blob_gas or 0)

    # -- running ----------------------------------------------------------------------------

    def _context(
        self, tx: UnsignedTransaction, caller: bytes, address: bytes, gas: int
    ) -> ExecutionContext:
        return ExecutionContext(
            block_number=self.env.number,
            timestamp=self.env.timestamp,
            caller=caller,
            address=address,
            gas_limit=gas,
            value=tx.value,
            origin=caller,
            gas_price=effective_gas_price(tx, self.env.base_fee),
            env=self.env,
        )

    def _call(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        to: bytes,
        state: WorldState,
        gas: int,
        code_hash: bytes | None,
    ) -> ExecutionResult:
        if tx.value:
            state.transfer(sender, to, tx.value)
        if code_hash is None:
            return _EMPTY  # a plain value transfer
        code = self._code(code_hash, state)
        try:
            backend = self.dispatcher.backend_for(code)
            return backend.execute(
                code, state, self._context(tx, sender, to, gas), entry=CALL_ENTRY, input=tx.data
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
        if not tx.data:
            return _EMPTY, address  # no code to run or store: an account with nonce 1
        try:
            backend = self.dispatcher.backend_for(tx.data)
            module, arguments = split_create_data(tx.data)
            has_deploy = DEPLOY_ENTRY in backend.exports(module)  # validates the module
            result = _EMPTY
            if has_deploy:
                context = self._context(tx, sender, address, gas)
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
    "TransactionEngine",
    "TransactionExecutor",
    "TransactionRejected",
    "TransactionResult",
]
