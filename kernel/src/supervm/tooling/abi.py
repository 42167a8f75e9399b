"""The Ethereum ABI at contract boundaries: calldata, return data, revert data and logs.

Every engine speaks it, so a WASM contract and an EVM contract look the same to web3.py,
ethers and to each other. Encoding and decoding use the ``eth-abi`` package; this module adds
the JSON-ABI lookups and the conversions the command line needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from eth_abi.abi import decode, encode, is_encodable
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils.address import to_checksum_address

from supervm.crypto import keccak256
from supervm.errors import SuperVMError
from supervm.model import Log

AbiItem = Mapping[str, Any]

#: ``Error(string)``, Solidity's revert reason.
ERROR_SELECTOR = bytes.fromhex("08c379a0")
#: ``Panic(uint256)``, Solidity's assertion failures.
PANIC_SELECTOR = bytes.fromhex("4e487b71")


class AbiError(SuperVMError):
    """A call does not match the contract's ABI, or data does not decode."""


def canonical_type(param: AbiItem) -> str:
    """The canonical type of an ABI parameter (tuples expanded)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param.get("components", ()))
        return f"({inner}){kind[5:]}"
    return kind


def signature(item: AbiItem) -> str:
    """``name(type,...)`` of a function, event or error."""
    types = ",".join(canonical_type(p) for p in item.get("inputs", ()))
    return f"{item['name']}({types})"


def selector(item_or_signature: AbiItem | str) -> bytes:
    """The 4-byte selector of a function or error."""
    sig = item_or_signature if isinstance(item_or_signature, str) else signature(item_or_signature)
    return keccak256(sig.encode())[:4]


def event_topic(item: AbiItem) -> bytes:
    """topic0 of an event: the Keccak-256 of its signature."""
    return keccak256(signature(item).encode())


def _types(params: Sequence[AbiItem]) -> list[str]:
    return [canonical_type(p) for p in params]


def find_function(abi: Sequence[AbiItem], name: str, n_args: int | None = None) -> AbiItem:
    """The function ``name`` (by ``name`` or full signature), disambiguated by argument count.

    With ``n_args``, a function that does not take that many arguments is an :class:`AbiError`
    (``transfer(address,uint256) takes 2 arguments (to, amount), got 1``).
    """
    functions = [i for i in abi if i.get("type") == "function"]
    named = [f for f in functions if f.get("name") == name or signature(f) == name]
    if not named:
        known = ", ".join(sorted({signature(f) for f in functions})) or "none"
        raise AbiError(f"the ABI has no function {name!r} (functions: {known})")
    if n_args is None or len(named) == 1:
        matches = named
    else:
        matches = [f for f in named if len(f.get("inputs", ())) == n_args]
        if not matches:
            options = ", ".join(signature(f) for f in named)
            raise AbiError(
                f"{name!r} is overloaded ({options}); none takes {_count(n_args, 'argument')}"
            )
    if len(matches) > 1:
        options = ", ".join(signature(f) for f in matches)
        raise AbiError(f"{name!r} is overloaded ({options}); give the full signature")
    fn = matches[0]
    if n_args is not None and len(fn.get("inputs", ())) != n_args:
        raise AbiError(_count_mismatch(signature(fn), fn.get("inputs", ()), n_args))
    return fn


def constructor(abi: Sequence[AbiItem]) -> AbiItem | None:
    """The constructor entry of an ABI, if any."""
    return next((i for i in abi if i.get("type") == "constructor"), None)


def encode_arguments(
    params: Sequence[AbiItem], args: Sequence[Any], *, item: AbiItem | None = None
) -> bytes:
    """ABI-encode ``args`` for ``params``, converting command-line strings as needed.

    Every argument is checked against its type first, so a bad one is an :class:`AbiError`
    that names it: ``argument 3 (initialSupply: uint256) must be a non-negative integer below
    2**256, got '-5'``. ``item`` is the function or constructor ``params`` belong to; it only
    words the message for a wrong number of arguments.
    """
    if len(args) != len(params):
        if item is None:
            raise AbiError(_count_mismatch(None, params, len(args)))
        label = signature(item) if item.get("type") != "constructor" else _ctor_label(item)
        raise AbiError(_count_mismatch(label, params, len(args)))
    values = [
        _argument(position, param, arg)
        for position, (param, arg) in enumerate(zip(params, args, strict=True), start=1)
    ]
    types = _types(params)
    try:
        return encode(types, values)
    except (EncodingError, TypeError, ValueError, OverflowError):
        raise AbiError(f"the arguments cannot be encoded as ({','.join(types)})") from None


def encode_call(abi: Sequence[AbiItem], name: str, args: Sequence[Any]) -> bytes:
    """Calldata for calling ``name`` with ``args``: selector followed by the encoded args."""
    fn = find_function(abi, name, len(args))
    return selector(fn) + encode_arguments(fn.get("inputs", ()), args, item=fn)


def decode_output(fn: AbiItem, data: bytes) -> list[Any]:
    """Decode a function's return data into Python values."""
    outputs = fn.get("outputs", ())
    if not outputs:
        return []
    try:
        return [_plain(v) for v in decode(_types(outputs), data)]
    except (DecodingError, TypeError, ValueError) as exc:
        raise AbiError(f"return data does not decode as {_types(outputs)}: {exc}") from None


def decode_revert(data: bytes, abi: Sequence[AbiItem] = ()) -> str | None:
    """A readable revert reason: ``Error(string)``, ``Panic(uint256)`` or an ABI custom error."""
    if len(data) < 4:
        return None
    head, body = data[:4], data[4:]
    try:
        if head == ERROR_SELECTOR:
            return str(decode(["string"], body)[0])
        if head == PANIC_SELECTOR:
            return f"Panic(0x{decode(['uint256'], body)[0]:x})"
        for item in abi:
            if item.get("type") == "error" and selector(item) == head:
                values = decode(_types(item.get("inputs", ())), body)
                args = ", ".join(str(_plain(v)) for v in values)
                return f"{item['name']}({args})"
    except (DecodingError, TypeError, ValueError):
        return None
    return None


@attrs.frozen
class DecodedLog:
    """A log matched against an ABI event.

    :param event: the event name.
    :param args: argument name -> value.
    """

    event: str
    args: Mapping[str, Any]


def decode_log(abi: Sequence[AbiItem], log: Log) -> DecodedLog | None:
    """Decode ``log`` with the ABI's events; ``None`` if no event matches."""
    if not log.topics:
        return None
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        if event_topic(item) != log.topics[0]:
            continue
        inputs = item.get("inputs", ())
        indexed = [p for p in inputs if p.get("indexed")]
        plain = [p for p in inputs if not p.get("indexed")]
        if len(indexed) != len(log.topics) - 1:
            continue
        try:
            values: dict[str, Any] = {}
            for param, topic in zip(indexed, log.topics[1:], strict=True):
                kind = canonical_type(param)
                dynamic = kind in ("string", "bytes") or kind.endswith("]") or "(" in kind
                values[param["name"]] = (
                    "0x" + topic.hex() if dynamic else _plain(decode([kind], topic)[0])
                )
            for param, value in zip(plain, decode(_types(plain), log.data), strict=True):
                values[param["name"]] = _plain(value)
        except (DecodingError, TypeError, ValueError):
            continue
        ordered = {p["name"]: values[p["name"]] for p in inputs}
        return DecodedLog(str(item["name"]), ordered)
    return None


def parse_value(kind: str, value: Any) -> Any:
    """Convert a command-line string to the Python value eth-abi expects for ``kind``.

    ``kind`` is a canonical type (tuples written out, ``(uint256,address)[]``). Python values
    are checked and passed on; a value that does not fit ``kind`` is an :class:`AbiError`.
    """
    return _convert(_param_from_type(kind), value, f"a {kind} value")


# -- argument checks ------------------------------------------------------------------------
#
# Each argument is converted and checked here, against the rules of its ABI type, so that a
# mistake is reported in the ABI's terms (position, name, type, rule) and never in eth-abi's.
# ``where`` is the subject of the message: ``argument 2 (ids: uint256[]) element 1``.

_INT = re.compile(r"(u?)int([0-9]*)")
_BYTES_N = re.compile(r"bytes([0-9]+)")
_FIXED = re.compile(r"u?fixed([0-9]+x[0-9]+)?")
_HEX = re.compile(r"[0-9a-fA-F]*")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _ctor_label(item: AbiItem) -> str:
    return f"constructor({','.join(_types(item.get('inputs', ())))})"


def _count_mismatch(label: str | None, params: Sequence[AbiItem], got: int) -> str:
    names = [str(p.get("name") or "") for p in params]
    if label is None:
        described = ", ".join(_describe(p) for p in params)
        listing = f" ({described})" if params else ""
        return f"expected {_count(len(params), 'argument')}{listing}, got {got}"
    listing = f" ({', '.join(names)})" if names and all(names) else ""
    return f"{label} takes {_count(len(params), 'argument')}{listing}, got {got}"


def _describe(param: AbiItem) -> str:
    name = param.get("name")
    kind = canonical_type(param)
    return f"{name}: {kind}" if name else kind


def _argument(position: int, param: AbiItem, value: Any) -> Any:
    where = f"argument {position} ({_describe(param)})"
    converted = _convert(param, value, where)
    kind = canonical_type(param)
    if not is_encodable(kind, converted):
        # A type the checks above pass through (e.g. one eth-abi does not know).
        raise AbiError(f"{where} cannot be encoded as {kind}, got {_show(value)}")
    return converted


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _fail(where: str, rule: str, value: Any) -> AbiError:
    return AbiError(f"{where} must be {rule}, got {_show(value)}")


def _convert(param: AbiItem, value: Any, where: str) -> Any:
    kind = str(param["type"])
    if kind.endswith("]"):
        return _convert_array(param, value, where)
    if kind == "tuple":
        return _convert_tuple(param, value, where)
    return _convert_basic(kind, value, where)


def _json(value: Any) -> Any:
    """A command-line string holding an array or tuple, as JSON; other values as they are."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _convert_array(param: AbiItem, value: Any, where: str) -> Any:
    kind = str(param["type"])
    cut = kind.rindex("[")
    element = {**param, "type": kind[:cut]}
    size_text = kind[cut + 1 : -1]
    element_kind = canonical_type(element)
    size = int(size_text) if size_text.isdigit() else None
    items = _json(value)
    if not isinstance(items, list | tuple):
        counted = "" if size is None else f"exactly {size} "
        rule = f"a JSON array of {counted}{element_kind} values, e.g. {_example(element_kind)}"
        raise _fail(where, rule, value)
    if size is not None and len(items) != size:
        raise AbiError(
            f"{where} must have exactly {_count(size, 'element')}, got {len(items)}: {_show(value)}"
        )
    return [_convert(element, v, f"{where} element {i}") for i, v in enumerate(items)]


def _example(kind: str) -> str:
    if kind.startswith(("uint", "int")):
        return "[1, 2]"
    if kind == "bool":
        return "[true, false]"
    if kind == "address":
        return '["0x' + "00" * 20 + '"]'
    return '["a", "b"]' if kind == "string" else "[...]"


def _convert_tuple(param: AbiItem, value: Any, where: str) -> Any:
    components: Sequence[AbiItem] = param.get("components", ())
    kind = canonical_type(param)
    names = [str(c.get("name") or "") for c in components]
    fields = _json(value)
    if isinstance(fields, Mapping) and names and all(names):
        unknown = [str(k) for k in fields if k not in names]
        if unknown:
            raise AbiError(
                f"{where} has no field {unknown[0]!r} (fields: {', '.join(names)}), "
                f"got {_show(value)}"
            )
        missing = [n for n in names if n not in fields]
        if missing:
            raise AbiError(f"{where} is missing field {missing[0]!r}, got {_show(value)}")
        fields = [fields[n] for n in names]
    if not isinstance(fields, list | tuple):
        rule = f"a JSON array of {_count(len(components), 'value')} for {kind}"
        if names and all(names):
            rule += f" (or an object with {', '.join(names)})"
        raise _fail(where, rule, value)
    if len(fields) != len(components):
        raise AbiError(
            f"{where} must have exactly {_count(len(components), 'field')}, got {len(fields)}: "
            f"{_show(value)}"
        )
    return tuple(
        _convert(c, v, f"{where} field {n or i}")
        for i, (c, n, v) in enumerate(zip(components, names, fields, strict=True))
    )


def _convert_basic(kind: str, value: Any, where: str) -> Any:
    text = value.strip() if isinstance(value, str) else None
    if int_match := _INT.fullmatch(kind):
        return _convert_int(int_match[1] == "", int(int_match[2] or 256), value, where)
    if kind == "address":
        if text is not None:
            digits = text[2:] if text[:2].lower() == "0x" else text
            if len(digits) == 40 and _HEX.fullmatch(digits):
                return to_checksum_address("0x" + digits)
        elif isinstance(value, bytes | bytearray) and len(value) == 20:
            return bytes(value)
        raise _fail(where, "a 20-byte hex address (0x followed by 40 hex digits)", value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _fail(where, "true or false", value)
    if kind == "bytes":
        data = _bytes(value)
        if data is None:
            raise _fail(where, "hex bytes (0x followed by an even number of hex digits)", value)
        return data
    if size_match := _BYTES_N.fullmatch(kind):
        size = int(size_match[1])
        data = _bytes(value)
        if data is None or len(data) != size:
            rule = f"exactly {_count(size, 'byte')} as hex (0x followed by {2 * size} hex digits)"
            raise _fail(where, rule, value)
        return data
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(where, "a string", value)
        return value
    if _FIXED.fullmatch(kind):
        number: Any = value
        if text is not None:
            try:
                number = Decimal(text)
            except InvalidOperation:
                number = None
        if not isinstance(number, Decimal | int) or isinstance(number, bool):
            raise _fail(where, f"a decimal number that fits {kind}", value)
        if not is_encodable(kind, number):
            raise _fail(where, f"a decimal number that fits {kind}", value)
        return number
    return value


def _convert_int(signed: bool, bits: int, value: Any, where: str) -> int:
    if signed:
        rule = f"an integer between -2**{bits - 1} and 2**{bits - 1}-1"
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        rule = f"a non-negative integer below 2**{bits}"
        low, high = 0, 2**bits - 1
    number: int | None = None
    if isinstance(value, str):
        number = _int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or not low <= number <= high:
        raise _fail(where, rule, value)
    return number


def _int(text: str) -> int | None:
    """``text`` as an integer: decimal (leading zeros allowed), 0x hex, 0o octal or 0b binary."""
    for base in (0, 10):
        try:
            return int(text, base)
        except ValueError:
            pass
    return None


def _bytes(value: Any) -> bytes | None:
    """Hex text (with or without 0x) or a bytes value as bytes; ``None`` if it is neither."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    digits = text[2:] if text[:2].lower() == "0x" else text
    if len(digits) % 2 or not _HEX.fullmatch(digits):
        return None
    return bytes.fromhex(digits)


def _param_from_type(kind: str) -> AbiItem:
    """A JSON-ABI parameter for a canonical type: ``(uint256,bool)[]`` gets its components."""
    if not kind.startswith("("):
        return {"type": kind}
    parts: list[str] = []
    depth, start = 0, 1
    for i, char in enumerate(kind):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if depth == 1 and char == ",":
            parts.append(kind[start:i])
            start = i + 1
        elif depth == 0:
            if i > 1:
                parts.append(kind[start:i])
            suffix = kind[i + 1 :]
            break
    else:
        raise AbiError(f"{kind!r} is not a valid ABI type")
    return {"type": "tuple" + suffix, "components": [_param_from_type(p) for p in parts]}


def _plain(value: Any) -> Any:
    """eth-abi values as JSON-friendly Python: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
