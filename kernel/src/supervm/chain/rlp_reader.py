"""A strict, linear-time RLP reader for fixed-shape records (transactions, blocks, receipts).

Chain records have a known shape, so they are read by walking that shape with these functions
instead of a general decoder. Two reasons: the rlp package's decoder copies the encoding of a
list once per item (quadratic: 116 ms for an access list of 16,000 keys, far worse for a block
of 10,000 transactions) and recurses once per nesting level (RecursionError on deeply nested
input); and a walk that knows where each item starts can take a canonical item's encoding, or
the digest input, as a slice of the input instead of re-encoding it.

Only canonical RLP is accepted: the shortest length form, no single byte below 0x80 wrapped in a
string header, integers without leading zeros. With it an encoding is unique, so a record's hash
can be taken over the bytes it arrived as.

An item is ``(is a list, header position, payload start, payload end)``; the item's own
encoding is ``buf[header position:payload end]``. Every function takes the exception class to
raise and a name for the item, so each record's errors say which record and which field.
The module also has the few encoders the decoders need to rebuild canonical prefixes.
"""

from __future__ import annotations

from typing import TypeAlias

from supervm.errors import SuperVMError

__all__ = [
    "Item",
    "bytes_field",
    "encode_bytes",
    "encode_uint",
    "list_items",
    "list_prefix",
    "read_header",
    "read_list",
    "uint_bytes",
    "uint_field",
]

#: ``(is a list, header position, payload start, payload end)``.
Item: TypeAlias = tuple[bool, int, int, int]
Error: TypeAlias = type[SuperVMError]


def read_header(buf: bytes, pos: int, end: int, name: str, error: Error) -> tuple[bool, int, int]:
    """The canonical RLP header at ``pos``: (is a list, payload start, payload end <= end)."""
    if pos >= end:
        raise error(f"invalid RLP: input ends before {name}")
    b0 = buf[pos]
    if b0 < 0x80:
        return False, pos, pos + 1
    if b0 < 0xB8:
        start, stop, is_list = pos + 1, pos + 1 + b0 - 0x80, False
        if b0 == 0x81 and stop <= end and buf[start] < 0x80:
            raise error(f"invalid RLP: {name} is a single byte below 0x80 with a header")
    elif b0 < 0xC0 or b0 >= 0xF8:
        is_list = b0 >= 0xF8
        start = pos + 1 + b0 - (0xF7 if is_list else 0xB7)
        if start > end:
            raise error(f"invalid RLP: input ends inside the length of {name}")
        if buf[pos + 1] == 0:
            raise error(f"invalid RLP: the length of {name} has leading zero bytes")
        length = int.from_bytes(buf[pos + 1 : start], "big")
        if length < 56:
            raise error(f"invalid RLP: {name} uses the long form for a short length")
        stop = start + length
    else:
        start, stop, is_list = pos + 1, pos + 1 + b0 - 0xC0, True
    if stop > end:
        raise error(f"invalid RLP: {name} runs past the end of its enclosing item")
    return is_list, start, stop


def list_items(buf: bytes, start: int, end: int, name: str, error: Error) -> list[Item]:
    """The items of the list payload ``buf[start:end]``; ``name`` names each item."""
    items = []
    pos = start
    while pos < end:
        is_list, item_start, item_stop = read_header(buf, pos, end, name, error)
        items.append((is_list, pos, item_start, item_stop))
        pos = item_stop
    return items


def read_list(buf: bytes, item: Item, name: str, item_name: str, error: Error) -> list[Item]:
    """The items of ``item``, which must be a list (``name``) of items (``item_name``)."""
    if not item[0]:
        raise error(f"invalid RLP: {name} must be a list")
    return list_items(buf, item[2], item[3], item_name, error)


def bytes_field(buf: bytes, item: Item, name: str, error: Error) -> bytes:
    """The payload of ``item``, which must be a byte string."""
    if item[0]:
        raise error(f"invalid RLP: {name} must be a byte string, not a list")
    return buf[item[2] : item[3]]


def uint_field(buf: bytes, item: Item, name: str, error: Error) -> int:
    """The canonical unsigned integer (at most 256 bits) that ``item`` holds."""
    if item[0]:
        raise error(f"invalid RLP: {name} must be an integer, not a list")
    start, stop = item[2], item[3]
    if start == stop:
        return 0
    if buf[start] == 0:
        raise error(f"invalid RLP: {name} has leading zero bytes")
    if stop - start > 32:
        raise error(f"{name} exceeds 256 bits")
    return int.from_bytes(buf[start:stop], "big")


# --- encoding -------------------------------------------------------------------------------------

# Prefixes of short strings and lists, made once: they are needed for every item.
_STRING_PREFIX = [bytes((0x80 + n,)) for n in range(56)]
_LIST_PREFIX = [bytes((0xC0 + n,)) for n in range(56)]


def uint_bytes(value: int) -> bytes:
    """The minimal big-endian bytes of ``value`` (empty for 0), as RLP holds integers."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def encode_bytes(data: bytes) -> bytes:
    """The RLP encoding of the byte string ``data``."""
    n = len(data)
    if n == 1 and data[0] < 0x80:
        return data
    if n < 56:
        return _STRING_PREFIX[n] + data
    size = uint_bytes(n)
    return bytes((0xB7 + len(size),)) + size + data


def encode_uint(value: int) -> bytes:
    """The RLP encoding of the unsigned integer ``value``."""
    return encode_bytes(uint_bytes(value))


def list_prefix(length: int) -> bytes:
    """The RLP header of a list whose payload is ``length`` bytes."""
    if length < 56:
        return _LIST_PREFIX[length]
    size = uint_bytes(length)
    return bytes((0xF7 + len(size),)) + size
