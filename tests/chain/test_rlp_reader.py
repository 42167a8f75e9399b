"""The shared strict RLP reader, checked against ``rlp.decode(strict=True)``."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.chain.rlp_reader import (
    Item,
    encode_bytes,
    encode_uint,
    list_items,
    list_prefix,
    read_header,
    uint_field,
)
from supervm.errors import SuperVMError


class ReaderError(SuperVMError):
    pass


def decode_with_reader(buf: bytes) -> Any:
    """A general decoder made of the reader's parts (chain records use fixed shapes instead)."""

    def value(item: Item) -> Any:
        if not item[0]:
            return buf[item[2] : item[3]]
        return [value(inner) for inner in list_items(buf, item[2], item[3], "an item", ReaderError)]

    if not buf:
        raise ReaderError("empty")
    is_list, start, stop = read_header(buf, 0, len(buf), "the input", ReaderError)
    if stop != len(buf):
        raise ReaderError("trailing bytes")
    return value((is_list, 0, start, stop))


structures = st.recursive(
    st.binary(max_size=70),
    lambda children: st.lists(children, max_size=5),
    max_leaves=20,
)


@given(structures)
@settings(max_examples=300)
def test_reader_and_encoders_agree_with_the_rlp_package(structure: Any) -> None:
    raw = rlp.encode(structure)
    assert decode_with_reader(raw) == rlp.decode(raw, strict=True) == structure
    if isinstance(structure, bytes):
        assert encode_bytes(structure) == raw
    else:
        payload = b"".join(rlp.encode(x) for x in structure)
        assert list_prefix(len(payload)) + payload == raw


@given(st.one_of(st.integers(0, 300), st.integers(0, 2**256 - 1)))
def test_integers_round_trip(value: int) -> None:
    raw = encode_uint(value)
    assert raw == rlp.encode(value)
    is_list, start, stop = read_header(raw, 0, len(raw), "x", ReaderError)
    assert uint_field(raw, (is_list, 0, start, stop), "x", ReaderError) == value


def judged_like_strict_rlp(raw: bytes) -> None:
    try:
        expected = rlp.decode(raw, strict=True)
    except rlp.exceptions.DecodingError:
        with pytest.raises(ReaderError):
            decode_with_reader(raw)
        return
    assert decode_with_reader(raw) == expected


@given(st.binary(max_size=80))
@settings(max_examples=1000)
def test_reader_rejects_exactly_what_strict_rlp_rejects(raw: bytes) -> None:
    judged_like_strict_rlp(raw)


@given(structures, st.data())
@settings(max_examples=300)
def test_corrupted_encodings_are_judged_like_strict_rlp(
    structure: Any, data: st.DataObject
) -> None:
    raw = bytearray(rlp.encode(structure))
    raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    judged_like_strict_rlp(bytes(raw))
    judged_like_strict_rlp(bytes(raw[:cut]))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x81\x05", "single byte below 0x80 with a header"),
        (b"\xb8\x05hello", "long form for a short length"),
        (b"\xb9\x00\x38" + bytes(56), "leading zero bytes"),
        (b"\xc2\x01", "runs past the end"),
        (b"\xb9\x01", "input ends inside the length"),
    ],
)
def test_reader_messages(raw: bytes, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        decode_with_reader(raw)
