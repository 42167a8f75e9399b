"""The typed data model that crosses hook boundaries.

Every record here is a frozen attrs class: plugins receive and return these, never dicts. Apart
from positional pickling (:func:`positional_pickle`), the classes carry no serialisation code;
conversion to JSON happens at the edges
(:mod:`supervm.tooling.convert`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, TypeVar

import attrs
from attrs import AttrsInstance

ADDRESS_SIZE = 20
ZERO_ADDRESS = bytes(ADDRESS_SIZE)
DEFAULT_GAS_LIMIT = 10_000_000
#: Block numbers, timestamps and gas limits are 64-bit unsigned, as in Ethereum's headers.
U64_MAX = 2**64 - 1

_Record = TypeVar("_Record", bound=type[AttrsInstance])


@functools.cache
def _positional_names(cls: type[AttrsInstance]) -> tuple[str, ...]:
    """The fields of ``cls`` in ``__init__`` order, all of which ``__init__`` takes positionally."""
    fields = attrs.fields(cls)
    refused = [f.name for f in fields if not f.init or f.kw_only]
    if refused:
        # Positional arguments cannot carry these; pickling without them would drop them.
        raise TypeError(
            f"{cls.__qualname__}: positional pickling needs every field to be a positional "
            f"__init__ argument; not so for {', '.join(refused)}"
        )
    return tuple(f.name for f in fields)


def _reduce_any(self: AttrsInstance) -> tuple[type[AttrsInstance], tuple[object, ...]]:
    """``__reduce__`` for a subclass, which may have added fields to its decorated base."""
    kind = type(self)
    return kind, tuple(getattr(self, name) for name in _positional_names(kind))


def positional_pickle(cls: _Record) -> _Record:
    """Class decorator (above ``@attrs.frozen``): pickle instances as ``cls(*fields)``.

    Several times faster than attrs' default (slot state set one attribute at a time), which
    matters when results travel between worker processes. The argument tuple is built from
    :func:`attrs.fields`, so a field added later is pickled without anyone remembering to, and
    unpickling runs ``__init__``: validators and ``__attrs_post_init__`` check what arrives.
    Fields that cannot be passed positionally (``init=False``, ``kw_only``) are refused here,
    at class definition, rather than dropped.
    """
    # Generated, as attrs generates __init__ (so every name is one ``self.<name>`` can spell):
    # the same bytecode as a hand-written tuple of attribute loads; a closure calling
    # operator.attrgetter measured ~6% slower.
    fields = "".join(f"self.{name}, " for name in _positional_names(cls))
    source = (
        "def __reduce__(self):\n"
        "    kind = type(self)\n"
        "    if kind is cls:\n"
        f"        return kind, ({fields})\n"
        "    return _reduce_any(self)\n"
    )
    namespace: dict[str, Any] = {"cls": cls, "_reduce_any": _reduce_any}
    exec(compile(source, f"<positional_pickle {cls.__qualname__}>", "exec"), namespace)
    reduce = namespace["__reduce__"]
    reduce.__qualname__ = f"{cls.__qualname__}.__reduce__"
    reduce.__module__ = cls.__module__
    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls


def _check_address(_instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if len(value) != ADDRESS_SIZE:
        raise ValueError(f"{attribute.name} must be {ADDRESS_SIZE} bytes, got {len(value)}")


@positional_pickle
@attrs.frozen
class BlockEnv:
    """What a transaction, and every call it makes, sees of the block it runs in.

    Plain data, so that it pickles to a parallel scheduler's workers.

    :param chain_id: the chain's EIP-155 id; transactions for another chain are rejected.
    :param number: the block's height.
    :param timestamp: the block's time, seconds since the Unix epoch.
    :param coinbase: the fee recipient.
    :param gas_limit: the block's gas limit.
    :param base_fee: the block's EIP-1559 base fee per gas, in wei (burnt).
    :param prev_randao: the block's mix hash.
    :param block_hashes: the hashes of the block's most recent ancestors, the parent first, at
        most 256 (what EVM's ``BLOCKHASH`` can see); empty where nobody needs them.
    :param excess_blob_gas: the block's EIP-4844 excess blob gas, if the header has it.
    :param parent_beacon_block_root: the header's EIP-4788 parent beacon block root, if any.
    """

    chain_id: int
    number: int
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: int = 0
    prev_randao: bytes = bytes(32)
    block_hashes: tuple[bytes, ...] = ()
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None

    def block_hash(self, number: int) -> bytes | None:
        """The hash of ancestor block ``number``, if it is one of :attr:`block_hashes`."""
        distance = self.number - number
        if 1 <= distance <= len(self.block_hashes):
            return self.block_hashes[distance - 1]
        return None


@positional_pickle
@attrs.frozen
class ExecutionContext:
    """Where and by whom a call runs: the chain and call environment a contract can observe.

    :param block_number: height of the block the call executes in.
    :param timestamp: the block's timestamp, seconds since the Unix epoch.
    :param caller: 20-byte address of the account that made the call.
    :param address: 20-byte address of the contract being executed; its storage namespace.
    :param gas_limit: gas the call may consume before it traps with out-of-gas.
    :param value: the wei the call carries (``msg.value``); the caller of the backend has
        already moved it to ``address`` (a delegate call sees its caller's value, moves none).
    :param static: whether the call may not change state (``STATICCALL`` and what it calls).
    :param depth: how many calls enclose this one (0 for a transaction's own call); calls
        stop at 1024, as in Ethereum.
    :param origin: the account that signed the transaction (``tx.origin``); zero if unknown.
    :param gas_price: the transaction's effective gas price (``GASPRICE``).
    :param env: the whole block environment, for engines that need more of it than the number
        and timestamp (an EVM: coinbase, base fee, chain id, ``BLOCKHASH``); ``None`` outside
        a block.
    """

    block_number: int = 0
    timestamp: int = 0
    caller: bytes = attrs.field(default=ZERO_ADDRESS, validator=_check_address)
    address: bytes = attrs.field(default=ZERO_ADDRESS, validator=_check_address)
    gas_limit: int = DEFAULT_GAS_LIMIT
    value: int = 0
    static: bool = False
    depth: int = 0
    origin: bytes = ZERO_ADDRESS
    gas_price: int = 0
    env: BlockEnv | None = None

    def __attrs_post_init__(self) -> None:
        # One combined check rather than three validators: contexts are made per call.
        if not (
            0 <= self.block_number <= U64_MAX
            and 0 <= self.timestamp <= U64_MAX
            and 0 <= self.gas_limit <= U64_MAX
        ):
            for name in ("block_number", "timestamp", "gas_limit"):
                value = getattr(self, name)
                if not 0 <= value <= U64_MAX:
                    raise ValueError(f"{name} must be between 0 and 2**64-1, got {value}")


@positional_pickle
@attrs.frozen
class Event:
    """An opaque event emitted by a contract with ``emit_event``.

    :param address: the emitting contract.
    :param data: the bytes the contract emitted.
    """

    address: bytes
    data: bytes


@positional_pickle
@attrs.frozen
class Log:
    """An Ethereum-style log: 0 to 4 topics of 32 bytes and a data blob.

    :param address: the emitting contract.
    :param topics: the indexed topics, each 32 bytes.
    :param data: the non-indexed data.
    """

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


class ErrorKind(StrEnum):
    """Why a call failed. The value is the stable string used in JSON output."""

    TRAP = "trap"
    OUT_OF_GAS = "out_of_gas"
    REVERT = "revert"
    HOST = "host_error"
    TIMEOUT = "timeout"
    INVALID_CALL = "invalid_call"
    INVALID_MODULE = "invalid_module"


@positional_pickle
@attrs.frozen
class ExecutionError:
    """A failed call: what kind of failure and a one-line message naming the problem.

    :param kind: the failure class.
    :param message: a human-readable one-line description.
    """

    kind: ErrorKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


@positional_pickle
@attrs.frozen
class ExecutionResult:
    """Everything a call produced.

    A failed call (``error`` set) produced no state changes: its writes were rolled back, and
    ``events``/``logs`` are empty. ``read_set`` and ``write_set`` still name the keys the call
    touched, since a scheduler needs them to detect conflicts either way.

    :param value: the integer the export returned, if it returns one.
    :param return_data: bytes set with ``set_return`` (or ``revert``).
    :param events: events emitted, in order.
    :param logs: Ethereum-style logs emitted, in order.
    :param gas_used: gas consumed, including host-function charges.
    :param read_set: state keys read.
    :param write_set: state keys written or deleted.
    :param error: why the call failed, or ``None`` on success.
    """

    value: int | None = None
    return_data: bytes = b""
    events: tuple[Event, ...] = ()
    logs: tuple[Log, ...] = ()
    gas_used: int = 0
    read_set: frozenset[bytes] = frozenset()
    write_set: frozenset[bytes] = frozenset()
    error: ExecutionError | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None


@positional_pickle
@attrs.frozen
class Call:
    """One call for a scheduler to execute: code, entry point, arguments and context.

    :param code: the contract code (WASM bytes).
    :param entry: the export to call.
    :param args: integer arguments of the export.
    :param input: call data the contract reads with ``read_input``.
    :param context: the execution context.
    :param vm: the execution backend to use, by registered name.
    :param access_list: the world-state keys the call may read or write, if it declares them
        (as an EIP-2930 access list does); a scheduler may plan with them, never trust them.
    """

    code: bytes
    entry: str = "call"
    args: tuple[int, ...] = ()
    input: bytes = b""
    context: ExecutionContext = ExecutionContext()
    vm: str = "wasm"
    access_list: tuple[bytes, ...] | None = None


@positional_pickle
@attrs.frozen
class BlockResult:
    """What a scheduler produced for a block, after the single commit.

    :param results: one result per call, in block order.
    :param gas_used: total gas of the block.
    """

    results: tuple[ExecutionResult, ...]
    gas_used: int

    @classmethod
    def of(cls, results: Sequence[ExecutionResult]) -> BlockResult:
        """Build a block result, summing gas."""
        return cls(results=tuple(results), gas_used=sum(r.gas_used for r in results))
