"""What a py-evm computation produced, as the kernel's records say it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eth import exceptions as evm
from supervm.model import ErrorKind, ExecutionError, Log

from .pyevm_crossvm import WasmCallFailed

if TYPE_CHECKING:
    from eth.abc import ComputationAPI

# geth's wording where it has one, so that tools matching error strings work on either backend.
_KNOWN: tuple[tuple[type[Exception], ErrorKind, str | None], ...] = (
    (evm.Revert, ErrorKind.REVERT, "execution reverted"),
    (evm.OutOfGas, ErrorKind.OUT_OF_GAS, None),
    (evm.InvalidInstruction, ErrorKind.TRAP, None),
    (evm.InvalidJumpDestination, ErrorKind.TRAP, "invalid jump destination"),
    (evm.InsufficientStack, ErrorKind.TRAP, "stack underflow"),
    (evm.FullStack, ErrorKind.TRAP, "stack limit reached 1024"),
    (evm.WriteProtection, ErrorKind.TRAP, "write protection"),
    (evm.OutOfBoundsRead, ErrorKind.TRAP, "return data out of bounds"),
    (evm.ReservedBytesInCode, ErrorKind.TRAP, "invalid code: must not begin with 0xef"),
    (evm.ContractCreationCollision, ErrorKind.INVALID_CALL, "contract address collision"),
    (evm.StackDepthLimit, ErrorKind.INVALID_CALL, "max call depth exceeded"),
    (evm.InsufficientFunds, ErrorKind.INVALID_CALL, "insufficient balance for transfer"),
)


def execution_error(computation: ComputationAPI) -> ExecutionError | None:
    """Why ``computation`` failed (``None`` if it succeeded)."""
    if computation.is_success:
        return None
    error = computation.error
    if isinstance(error, WasmCallFailed):
        return error.failure
    for kind_of, kind, message in _KNOWN:
        if isinstance(error, kind_of):
            if message is None:
                text = str(error) or type(error).__name__
                prefix = "out of gas" if kind is ErrorKind.OUT_OF_GAS else "invalid opcode"
                message = text if text.lower().startswith(prefix) else f"{prefix}: {text}"
            return ExecutionError(kind, message)
    return ExecutionError(ErrorKind.TRAP, str(error) or type(error).__name__)


def logs_of(computation: ComputationAPI) -> tuple[Log, ...]:
    """The logs of ``computation``'s successful frames, in order (empty if it failed)."""
    return tuple(
        Log(bytes(address), tuple(topic.to_bytes(32, "big") for topic in topics), bytes(data))
        for address, topics, data in computation.get_log_entries()
    )


__all__ = ["execution_error", "logs_of"]
