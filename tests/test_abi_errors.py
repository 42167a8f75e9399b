"""Argument encoding errors speak the ABI's terms: position, name, type and the rule broken.

``supervm.abi.encode_arguments`` checks every argument (command-line strings and Python values)
before eth-abi sees it, so no message carries eth-abi's wording or class names.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from typing import Any

import eth_abi.exceptions
import pytest
from eth_abi.abi import decode
from hypothesis import given
from hypothesis import strategies as st
from supervm.errors import SuperVMError
from supervm.tooling.abi import (
    AbiError,
    encode_arguments,
    encode_call,
    find_function,
    parse_value,
    selector,
)

#: Words of eth-abi's messages that must never reach a user.
ETH_ABI_WORDS = sorted(
    {name for name, obj in vars(eth_abi.exceptions).items() if inspect.isclass(obj)}
    | {"Encoder", "eth_abi", "eth-abi", "<class", "bounded between", "Traceback"}
)
ZERO = "0x" + "00" * 20
ALICE = "0x" + "a1" * 20
BITS = st.sampled_from([8, 16, 24, 32, 64, 128, 160, 248, 256])


def param(kind: str, name: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, **extra}


ORDER = [param("address", "to"), param("uint256", "amount")]


def error(params: list[Mapping[str, Any]], args: list[Any], **kwargs: Any) -> str:
    """The message of the AbiError that encoding ``args`` raises; it must be eth-abi free."""
    with pytest.raises(AbiError) as info:
        encode_arguments(params, args, **kwargs)
    message = str(info.value)
    assert isinstance(info.value, SuperVMError)
    leaked = [w for w in ETH_ABI_WORDS if w.lower() in message.lower()]
    assert not leaked, f"{message!r} leaks {leaked}"
    assert "\n" not in message
    return message


def one(kind: str, value: Any, name: str = "x") -> str:
    return error([param(kind, name)], [value])


def roundtrip(kind: str, value: Any) -> Any:
    (decoded,) = decode([kind], encode_arguments([param(kind)], [value]))
    return decoded


# -- integers --------------------------------------------------------------------------------


def test_uint_message_names_position_name_type_and_rule() -> None:
    params = [param("string", "name"), param("string", "symbol"), param("uint256", "initialSupply")]
    assert error(params, ["Token", "TOK", "-5"]) == (
        "argument 3 (initialSupply: uint256) must be a non-negative integer below 2**256, got '-5'"
    )


@pytest.mark.parametrize("value", ["abc", "1.5", "", "1e18", "0x", 1.5, True, None, [1]])
def test_not_an_integer(value: Any) -> None:
    assert one("uint8", value, "n") == (
        f"argument 1 (n: uint8) must be a non-negative integer below 2**8, got {value!r}"
    )
    assert one("int16", value, "d") == (
        f"argument 1 (d: int16) must be an integer between -2**15 and 2**15-1, got {value!r}"
    )


def test_unnamed_parameter_shows_only_its_type() -> None:
    assert error([param("uint256"), param("int8")], [1, "200"]) == (
        "argument 2 (int8) must be an integer between -2**7 and 2**7-1, got '200'"
    )


@given(bits=BITS, data=st.data())
def test_any_out_of_range_uint_gives_the_range_message(bits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(max_value=-1) | st.integers(min_value=2**bits))
    expected = f"argument 1 (v: uint{bits}) must be a non-negative integer below 2**{bits}, got "
    assert one(f"uint{bits}", value, "v") == expected + repr(value)
    assert one(f"uint{bits}", str(value), "v") == expected + repr(str(value))


@given(bits=BITS, data=st.data())
def test_any_out_of_range_int_gives_the_range_message(bits: int, data: st.DataObject) -> None:
    half = 2 ** (bits - 1)
    value = data.draw(st.integers(max_value=-half - 1) | st.integers(min_value=half))
    assert one(f"int{bits}", value, "v") == (
        f"argument 1 (v: int{bits}) must be an integer between -2**{bits - 1} and "
        f"2**{bits - 1}-1, got {value!r}"
    )


@given(bits=BITS, data=st.data())
def test_any_in_range_integer_encodes(bits: int, data: st.DataObject) -> None:
    unsigned = data.draw(st.integers(min_value=0, max_value=2**bits - 1))
    assert roundtrip(f"uint{bits}", unsigned) == unsigned
    assert roundtrip(f"uint{bits}", str(unsigned)) == unsigned
    assert roundtrip(f"uint{bits}", hex(unsigned)) == unsigned
    half = 2 ** (bits - 1)
    signed = data.draw(st.integers(min_value=-half, max_value=half - 1))
    assert roundtrip(f"int{bits}", signed) == signed
    assert roundtrip(f"int{bits}", f" {signed} ") == signed


def test_integer_edges_and_notations() -> None:
    assert roundtrip("uint256", str(2**256 - 1)) == 2**256 - 1
    assert roundtrip("int8", "-128") == -128
    assert roundtrip("uint8", "007") == 7
    assert roundtrip("uint32", "1_000_000") == 1_000_000
    assert roundtrip("uint8", "0b101") == 5
    assert "got '256'" in one("uint8", "256")
    assert "got '-129'" in one("int8", "-129")


# -- address, bool, bytes, string ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["0x1234", "0x" + "zz" * 20, "0x" + "a1" * 21, "", "alice", b"\x01" * 19, 5, None],
)
def test_address(value: Any) -> None:
    assert one("address", value, "to") == (
        "argument 1 (to: address) must be a 20-byte hex address (0x followed by 40 hex digits), "
        f"got {value!r}"
    )


def test_address_accepted_forms() -> None:
    raw = bytes.fromhex("a1" * 20)
    for value in (ALICE, ALICE.upper().replace("0X", "0x"), "a1" * 20, raw, f" {ALICE} "):
        assert roundtrip("address", value) == "0x" + "a1" * 20


@pytest.mark.parametrize("value", ["yes", "2", "", "truee", 2, None, "0x1"])
def test_bool(value: Any) -> None:
    assert one("bool", value, "flag") == (
        f"argument 1 (flag: bool) must be true or false, got {value!r}"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), (True, True), (0, False)],
)
def test_bool_accepted_forms(value: Any, expected: bool) -> None:
    assert roundtrip("bool", value) is expected


@given(size=st.integers(min_value=1, max_value=32), data=st.data())
def test_bytes_n_needs_the_exact_length(size: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(min_value=0, max_value=40).filter(lambda n: n != size))
    value = "0x" + "ab" * length
    assert one(f"bytes{size}", value, "h") == (
        f"argument 1 (h: bytes{size}) must be exactly {size} byte{'s' if size > 1 else ''} as "
        f"hex (0x followed by {2 * size} hex digits), got {value!r}"
    )
    exact = bytes(range(size))
    assert roundtrip(f"bytes{size}", "0x" + exact.hex()) == exact
    assert roundtrip(f"bytes{size}", exact) == exact


def test_bytes_n_rejects_non_hex() -> None:
    assert one("bytes4", "0xzzzzzzzz", "sel") == (
        "argument 1 (sel: bytes4) must be exactly 4 bytes as hex (0x followed by 8 hex digits), "
        "got '0xzzzzzzzz'"
    )


@pytest.mark.parametrize("value", ["0x123", "zz", "0xab cd", "hello", 12, None])
def test_bytes(value: Any) -> None:
    assert one("bytes", value, "data") == (
        "argument 1 (data: bytes) must be hex bytes (0x followed by an even number of hex "
        f"digits), got {value!r}"
    )


@given(st.binary(max_size=100))
def test_any_bytes_encode(value: bytes) -> None:
    assert roundtrip("bytes", value) == value
    assert roundtrip("bytes", "0x" + value.hex()) == value
    assert roundtrip("bytes", value.hex()) == value


@pytest.mark.parametrize("value", [5, b"abc", None, ["a"]])
def test_string(value: Any) -> None:
    assert one("string", value, "name") == (
        f"argument 1 (name: string) must be a string, got {value!r}"
    )


@given(st.text())
def test_any_string_encodes_as_given(value: str) -> None:
    assert roundtrip("string", value) == value


def test_long_values_are_shortened() -> None:
    message = one("address", "0x" + "g" * 500, "to")
    assert message.endswith("...") and len(message) < 250


# -- arrays ----------------------------------------------------------------------------------


def test_array_element_is_named_by_index() -> None:
    params = [param("address", "to"), param("uint256[]", "ids")]
    assert error(params, [ALICE, "[3, -1, 4]"]) == (
        "argument 2 (ids: uint256[]) element 1 must be a non-negative integer below 2**256, got -1"
    )
    assert error(params, [ALICE, [3, 4, "x"]]) == (
        "argument 2 (ids: uint256[]) element 2 must be a non-negative integer below 2**256, got 'x'"
    )


def test_array_must_be_a_json_array() -> None:
    assert one("uint256[]", "1,2", "ids") == (
        "argument 1 (ids: uint256[]) must be a JSON array of uint256 values, e.g. [1, 2], got '1,2'"
    )
    assert one("address[2]", "[", "pair") == (
        "argument 1 (pair: address[2]) must be a JSON array of exactly 2 address values, "
        f"e.g. [\"{ZERO}\"], got '['"
    )


def test_fixed_array_needs_the_exact_count() -> None:
    assert one("uint8[3]", "[1, 2]", "rgb") == (
        "argument 1 (rgb: uint8[3]) must have exactly 3 elements, got 2: '[1, 2]'"
    )
    assert one("bool[1]", [True, False], "f") == (
        "argument 1 (f: bool[1]) must have exactly 1 element, got 2: [True, False]"
    )


def test_nested_array_names_each_level() -> None:
    assert one("uint8[][2]", "[[1], [2, 300]]", "m") == (
        "argument 1 (m: uint8[][2]) element 1 element 1 must be a non-negative integer below "
        "2**8, got 300"
    )


def test_array_elements_may_be_strings() -> None:
    (values,) = decode(["uint256[]"], encode_arguments([param("uint256[]")], ['["1", "0x10", 3]']))
    assert values == (1, 16, 3)
    (addresses,) = decode(
        ["address[]"], encode_arguments([param("address[]")], [json.dumps([ALICE, ZERO])])
    )
    assert addresses == ("0x" + "a1" * 20, ZERO)
    (blobs,) = decode(["bytes2[2]"], encode_arguments([param("bytes2[2]")], ['["0x0102", "ffff"]']))
    assert blobs == (b"\x01\x02", b"\xff\xff")


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=8))
def test_any_valid_uint_list_encodes(values: list[int]) -> None:
    assert list(roundtrip("uint64[]", json.dumps(values))) == values


# -- tuples ----------------------------------------------------------------------------------


def test_tuple_field_is_named() -> None:
    params = [param("tuple", "order", components=ORDER)]
    assert error(params, [json.dumps([ZERO, -1])]) == (
        "argument 1 (order: (address,uint256)) field amount must be a non-negative integer "
        "below 2**256, got -1"
    )
    assert error(params, [{"to": "nobody", "amount": 1}]) == (
        "argument 1 (order: (address,uint256)) field to must be a 20-byte hex address "
        "(0x followed by 40 hex digits), got 'nobody'"
    )


def test_tuple_shape_errors() -> None:
    params = [param("tuple", "order", components=ORDER)]
    assert error(params, [[ZERO]]) == (
        f"argument 1 (order: (address,uint256)) must have exactly 2 fields, got 1: ['{ZERO}']"
    )
    assert error(params, ["5"]) == (
        "argument 1 (order: (address,uint256)) must be a JSON array of 2 values for "
        "(address,uint256) (or an object with to, amount), got '5'"
    )
    assert error(params, [{"to": ZERO}]) == (
        "argument 1 (order: (address,uint256)) is missing field 'amount', got {'to': '"
        + ZERO
        + "'}"
    )
    assert error(params, [{"to": ZERO, "amount": 1, "memo": "x"}]).startswith(
        "argument 1 (order: (address,uint256)) has no field 'memo' (fields: to, amount)"
    )


def test_array_of_tuples() -> None:
    params = [param("tuple[]", "orders", components=ORDER)]
    assert error(params, [json.dumps([[ZERO, 1], [ALICE, "lots"]])]) == (
        "argument 1 (orders: (address,uint256)[]) element 1 field amount must be a non-negative "
        "integer below 2**256, got 'lots'"
    )
    unnamed = [param("tuple", "p", components=[param("uint8"), param("bool")])]
    assert error(unnamed, [[1, "maybe"]]) == (
        "argument 1 (p: (uint8,bool)) field 1 must be true or false, got 'maybe'"
    )


def test_tuples_encode_from_json_arrays_objects_and_python() -> None:
    params = [param("tuple", "order", components=ORDER)]
    expected = ((ALICE, 7),)
    for value in ([ALICE, "7"], {"to": ALICE, "amount": 7}, json.dumps({"to": ALICE, "amount": 7})):
        assert decode(["(address,uint256)"], encode_arguments(params, [value])) == expected


# -- argument counts -------------------------------------------------------------------------

ABI = [
    {"type": "function", "name": "transfer", "inputs": ORDER, "outputs": []},
    {"type": "function", "name": "f", "inputs": [param("uint256")], "outputs": []},
    {"type": "function", "name": "f", "inputs": [param("uint256")] * 2, "outputs": []},
    {"type": "constructor", "inputs": [param("uint256", "supply")]},
]


def test_wrong_argument_count_names_the_function() -> None:
    with pytest.raises(AbiError) as info:
        encode_call(ABI, "transfer", [ALICE])
    assert str(info.value) == "transfer(address,uint256) takes 2 arguments (to, amount), got 1"
    with pytest.raises(AbiError, match=r"^transfer\(address,uint256\) takes 2 arguments"):
        find_function(ABI, "transfer", 3)
    with pytest.raises(AbiError) as info:
        find_function(ABI, "f", 3)
    assert str(info.value) == (
        "'f' is overloaded (f(uint256), f(uint256,uint256)); none takes 3 arguments"
    )
    assert find_function(ABI, "f", 2)["inputs"] == [param("uint256")] * 2


def test_wrong_argument_count_without_and_with_the_item() -> None:
    params = [param("string", "name"), param("uint256", "supply")]
    assert error(params, ["x"]) == "expected 2 arguments (name: string, supply: uint256), got 1"
    assert error([], ["x"]) == "expected 0 arguments, got 1"
    ctor = ABI[3]
    assert (
        error(ctor["inputs"], [], item=ctor)
        == "constructor(uint256) takes 1 argument (supply), got 0"
    )
    assert error(ORDER, [1, 2, 3], item=ABI[0]) == (
        "transfer(address,uint256) takes 2 arguments (to, amount), got 3"
    )


def test_good_call_encodes_like_before() -> None:
    data = encode_call(ABI, "transfer", [ALICE, "5"])
    assert data[:4] == selector("transfer(address,uint256)")
    assert decode(["address", "uint256"], data[4:]) == ("0x" + "a1" * 20, 5)


# -- parse_value -----------------------------------------------------------------------------


def test_parse_value_converts_and_checks() -> None:
    assert parse_value("uint8", "0x10") == 16
    assert parse_value("(uint256,bool)[]", '[["1", true]]') == [(1, True)]
    with pytest.raises(AbiError) as info:
        parse_value("uint8", "256")
    assert str(info.value) == "a uint8 value must be a non-negative integer below 2**8, got '256'"
    with pytest.raises(AbiError, match=r"^a \(uint8,bool\) value field 1 must be true or false"):
        parse_value("(uint8,bool)", "[1, 2]")


def test_no_message_mentions_eth_abi() -> None:
    # A sweep over every kind of mistake above, in one place, for the word list.
    cases: list[tuple[str, Any]] = [
        ("uint256", -1), ("int8", 1000), ("address", "0x12"), ("bool", "x"), ("bytes3", "0x01"),
        ("bytes", "0x1"), ("string", 1), ("uint8[]", "[1, 999]"), ("uint8[2]", "[1]"),
        ("ufixed128x18", "abc"),
    ]  # fmt: skip
    for kind, value in cases:
        message = one(kind, value)
        assert re.match(rf"argument 1 \(x: {re.escape(kind)}\) ", message), message
