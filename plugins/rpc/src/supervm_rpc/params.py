"""Reading a request's ``params``: positions, hex quantities and data, block tags, call objects.

Every reader raises :class:`~supervm.services.rpc.RpcError` with code -32602 (invalid params)
and a message naming the argument and what is wrong with it, in geth's words where it has them
("invalid argument 0: hex string without 0x prefix"), so a bad request never reaches a handler's
logic. Input is read leniently where that is harmless (JSON integers and hex with leading zeros
for quantities, upper-case hex digits); output is always the execution API's strict form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from supervm.services.rpc import INVALID_PARAMS, RpcError, RpcParams

#: ``latest``, ``pending``, ``earliest``, ``safe`` and ``finalized`` (the execution API's tags).
BLOCK_TAGS: Final = frozenset({"latest", "pending", "earliest", "safe", "finalized"})

_UINT256: Final = 2**256
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def invalid(message: str) -> RpcError:
    """An invalid-params error (-32602) with ``message``."""
    return RpcError(INVALID_PARAMS, message)


def positional(params: RpcParams, required: int, optional: int = 0) -> list[Any]:
    """The arguments of ``params``, which must be an array of ``required`` to ``required +
    optional`` values; missing optional ones are ``None`` (as a JSON ``null`` would be).

    :raises RpcError: for named parameters, too few or too many.
    """
    if isinstance(params, Mapping):
        raise invalid("non-array args: SuperVM's eth methods take their parameters by position")
    if not isinstance(params, Sequence) or isinstance(params, str | bytes):
        raise invalid("non-array args")
    args = list(params)
    most = required + optional
    if len(args) > most:
        raise invalid(f"too many arguments, want at most {most}")
    for index in range(len(args), required):
        raise invalid(f"missing value for required argument {index}")
    for index in range(required):
        if args[index] is None:
            raise invalid(f"missing value for required argument {index}")
    args.extend([None] * (most - len(args)))
    return args


def _hex_digits(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise invalid(f"{where}: expected a hex string, got {_kind(value)}")
    if not value.startswith(("0x", "0X")):
        raise invalid(f"{where}: hex string without 0x prefix")
    digits = value[2:]
    if not _HEX_DIGITS.issuperset(digits):
        raise invalid(f"{where}: invalid hex string")
    return digits


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def quantity(value: object, where: str, *, limit: int = _UINT256) -> int:
    """A non-negative integer: a hex quantity (``0x1a``) or a JSON integer.

    :param limit: the value must be below it (2**256 unless said otherwise).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
        if number < 0:
            raise invalid(f"{where}: a quantity cannot be negative")
    else:
        digits = _hex_digits(value, where)
        if not digits:
            raise invalid(f'{where}: hex string "0x" is empty, a quantity needs digits')
        if len(digits.lstrip("0")) > 64:
            raise invalid(f"{where}: hex number > 256 bits")
        number = int(digits, 16)
    if number >= limit:
        bits = limit.bit_length() - 1
        raise invalid(f"{where}: hex number > {bits} bits")
    return number


def data(value: object, where: str, *, size: int | None = None) -> bytes:
    """Bytes given as ``0x`` and two hex digits per byte; exactly ``size`` bytes if given."""
    digits = _hex_digits(value, where)
    if len(digits) % 2:
        raise invalid(f"{where}: hex string of odd length")
    raw = bytes.fromhex(digits)
    if size is not None and len(raw) != size:
        raise invalid(f"{where}: hex string has length {len(digits)}, want {2 * size}")
    return raw


def address(value: object, where: str) -> bytes:
    """A 20-byte address (checksums are not checked: case is ignored, as geth does)."""
    return data(value, where, size=20)


def hash32(value: object, where: str) -> bytes:
    """A 32-byte hash."""
    return data(value, where, size=32)


def storage_slot(value: object, where: str) -> bytes:
    """A storage position as ``eth_getStorageAt`` takes it: up to 32 bytes of hex (a quantity
    or data), left-padded to 32 bytes, as geth reads it."""
    digits = _hex_digits(value, where)
    if len(digits) > 64:
        raise invalid(f"{where}: a storage slot is at most 32 bytes")
    return bytes.fromhex(digits.rjust(64, "0"))


def boolean(value: object, where: str, default: bool = False) -> bool:
    """A JSON boolean (``null`` or absent gives ``default``)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{where}: expected a boolean, got {_kind(value)}")
    return value


# --- blocks -------------------------------------------------------------------------------------


@attrs.frozen
class BlockRef:
    """Which block a request means: exactly one of ``tag``, ``number`` or ``hash``.

    :param require_canonical: EIP-1898's flag for a block given by hash.
    """

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False


LATEST: Final = BlockRef(tag="latest")


def block_ref(value: object, where: str, *, default: BlockRef = LATEST) -> BlockRef:
    """A block tag, number, hash, or EIP-1898 object (``{"blockHash": ..., "requireCanonical":
    ...}`` or ``{"blockNumber": ...}``); ``null`` or absent gives ``default``."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        has_hash, has_number = "blockHash" in value, "blockNumber" in value
        if has_hash == has_number:
            raise invalid(
                f"{where}: a block object has exactly one of blockHash and blockNumber (EIP-1898)"
            )
        extra = set(value) - {"blockHash", "blockNumber", "requireCanonical"}
        if extra:
            raise invalid(f"{where}: unknown field {sorted(extra)[0]!r} in a block object")
        if has_hash:
            return BlockRef(
                hash=hash32(value["blockHash"], where),
                require_canonical=boolean(value.get("requireCanonical"), where),
            )
        return block_number(value["blockNumber"], where)
    if isinstance(value, str) and len(value) == 66 and value.startswith(("0x", "0X")):
        return BlockRef(hash=hash32(value, where))
    return block_number(value, where)


def block_number(value: object, where: str, *, default: BlockRef = LATEST) -> BlockRef:
    """A block tag or number (not a hash): what ``eth_getBlockByNumber`` takes."""
    if value is None:
        return default
    if isinstance(value, str) and value in BLOCK_TAGS:
        return BlockRef(tag=value)
    if isinstance(value, str) and not value.startswith(("0x", "0X")):
        raise invalid(
            f"{where}: invalid block number {value!r}: use a hex number or one of "
            + ", ".join(sorted(BLOCK_TAGS))
        )
    return BlockRef(number=quantity(value, where, limit=2**63))


# --- transaction call objects ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CallObject:
    """An ``eth_call`` / ``eth_estimateGas`` / ``eth_sendTransaction`` object, read.

    Fields the object leaves out are ``None`` (``data`` is empty then); unknown fields are
    ignored, as geth does.
    """

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    type: int | None = None
    chain_id: int | None = None
    access_list: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()


def call_object(value: object, where: str) -> CallObject:
    """Read a call object; ``data`` and ``input`` are both accepted (and must agree)."""
    if not isinstance(value, Mapping):
        raise invalid(f"{where}: expected a transaction object, got {_kind(value)}")

    def opt_quantity(name: str, limit: int = _UINT256) -> int | None:
        raw = value.get(name)
        return None if raw is None else quantity(raw, f"{where}: {name}", limit=limit)

    def opt_address(name: str) -> bytes | None:
        raw = value.get(name)
        return None if raw is None else address(raw, f"{where}: {name}")

    raw_data, raw_input = value.get("data"), value.get("input")
    payload = b""
    if raw_input is not None:
        payload = data(raw_input, f"{where}: input")
        if raw_data is not None and data(raw_data, f"{where}: data") != payload:
            raise invalid(
                f'{where}: both "data" and "input" are set and not equal. Please use "input" '
                "to pass transaction call data"
            )
    elif raw_data is not None:
        payload = data(raw_data, f"{where}: data")
    return CallObject(
        sender=opt_address("from"),
        to=opt_address("to"),
        gas=opt_quantity("gas", 2**64),
        gas_price=opt_quantity("gasPrice"),
        max_fee_per_gas=opt_quantity("maxFeePerGas"),
        max_priority_fee_per_gas=opt_quantity("maxPriorityFeePerGas"),
        value=opt_quantity("value") or 0,
        data=payload,
        nonce=opt_quantity("nonce", 2**64 - 1),
        type=opt_quantity("type", 256),
        chain_id=opt_quantity("chainId"),
        access_list=_access_list(value.get("accessList"), f"{where}: accessList"),
    )


def _access_list(value: object, where: str) -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid(f"{where}: expected an array, got {_kind(value)}")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise invalid(f"{where}[{i}]: expected an object, got {_kind(entry)}")
        keys = entry.get("storageKeys") or []
        if not isinstance(keys, list):
            raise invalid(f"{where}[{i}].storageKeys: expected an array")
        out.append(
            (
                address(entry.get("address"), f"{where}[{i}].address"),
                tuple(hash32(k, f"{where}[{i}].storageKeys") for k in keys),
            )
        )
    return tuple(out)
