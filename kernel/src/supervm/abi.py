"""The Ethereum ABI at contract boundaries: calldata, return data, revert data and logs.

Every engine speaks it, so a WASM contract and an EVM contract look the same to web3.py,
ethers and to each other. Encoding and decoding use the ``eth-abi`` package; this module adds
the JSON-ABI lookups and the conversions the command line needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils.address import to_checksum_address

from .compilers import keccak_hex
from .errors import SuperVMError
from .model import Log

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
    return bytes.fromhex(keccak_hex(sig.encode())[2:10])


def event_topic(item: AbiItem) -> bytes:
    """topic0 of an event: the Keccak-256 of its signature."""
    return bytes.fromhex(keccak_hex(signature(item).encode())[2:])


def _types(params: Sequence[AbiItem]) -> list[str]:
    return [canonical_type(p) for p in params]


def find_function(abi: Sequence[AbiItem], name: str, n_args: int | None = None) -> AbiItem:
    """The function ``name`` (by ``name`` or full signature), disambiguated by argument count."""
    functions = [i for i in abi if i.get("type") == "function"]
    matches = [f for f in functions if f.get("name") == name or signature(f) == name]
    if n_args is not None and len(matches) > 1:
        matches = [f for f in matches if len(f.get("inputs", ())) == n_args]
    if not matches:
        known = ", ".join(sorted({signature(f) for f in functions})) or "none"
        raise AbiError(f"the ABI has no function {name!r} (functions: {known})")
    if len(matches) > 1:
        options = ", ".join(signature(f) for f in matches)
        raise AbiError(f"{name!r} is overloaded ({options}); give the full signature")
    return matches[0]


def constructor(abi: Sequence[AbiItem]) -> AbiItem | None:
    """The constructor entry of an ABI, if any."""
    return next((i for i in abi if i.get("type") == "constructor"), None)


def encode_arguments(params: Sequence[AbiItem], args: Sequence[Any]) -> bytes:
    """ABI-encode ``args`` for ``params``, converting command-line strings as needed."""
    if len(args) != len(params):
        names = ", ".join(f"{canonical_type(p)} {p.get('name', '')}".strip() for p in params)
        raise AbiError(f"expected {len(params)} argument(s) ({names}), got {len(args)}")
    values = [parse_value(canonical_type(p), a) for p, a in zip(params, args, strict=True)]
    try:
        return encode(_types(params), values)
    except (EncodingError, TypeError, ValueError, OverflowError) as exc:
        raise AbiError(f"cannot encode arguments: {exc}") from None


def encode_call(abi: Sequence[AbiItem], name: str, args: Sequence[Any]) -> bytes:
    """Calldata for calling ``name`` with ``args``: selector followed by the encoded args."""
    fn = find_function(abi, name, len(args))
    return selector(fn) + encode_arguments(fn.get("inputs", ()), args)


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
    """Convert a command-line string to the Python value eth-abi expects for ``kind``."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind.endswith("]") or kind.startswith("("):
            return json.loads(text)
        if kind == "address":
            return to_checksum_address(text)
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return text.lower() in ("true", "1")
        if kind.startswith(("uint", "int")):
            return int(text, 0)
        if kind.startswith("bytes"):
            return bytes.fromhex(text.removeprefix("0x"))
        if kind == "string":
            return value
    except ValueError as exc:
        raise AbiError(f"{value!r} is not a valid {kind}: {exc}") from None
    return value


def _plain(value: Any) -> Any:
    """eth-abi values as JSON-friendly Python: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
