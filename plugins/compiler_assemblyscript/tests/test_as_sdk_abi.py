"""The SDK's Ethereum ABI codec, checked against eth-abi with the SDK's test contract
(sdk/assemblyscript/tests/contracts/AbiTypes.ts) running on SuperVM's WASM runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from Crypto.Hash import keccak
from eth_abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm import ExecutionContext, ExecutionResult, Kernel
from supervm.tooling.abi import decode_log, selector
from supervm.tooling.compilers import Artifact
from supervm.tooling.contracts import Contract

CALLER = bytes.fromhex("c4" * 20)
ERROR = bytes.fromhex("08c379a0")
PANIC = bytes.fromhex("4e487b71")


def k256(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


@pytest.fixture(scope="module")
def contract(kernel: Kernel, abi_types: Artifact) -> Iterator[Contract]:
    c = Contract(kernel, abi_types, kernel.open_storage("memory"))
    assert c.deploy(ExecutionContext(caller=CALLER)).ok
    yield c


def call(
    contract: Contract, signature: str, data: bytes, caller: bytes = CALLER
) -> ExecutionResult:
    assert contract.address is not None
    return contract.kernel.call(
        contract.address,
        contract.state,
        ExecutionContext(caller=caller),
        input=selector(signature) + data,
    )


def echo(contract: Contract, method: str, kind: str, value: Any) -> ExecutionResult:
    return call(contract, f"{method}({kind})", encode([kind], [value]))


def reason(result: ExecutionResult) -> str:
    assert not result.ok
    assert result.return_data[:4] == ERROR, result.return_data.hex()
    (text,) = decode(["string"], result.return_data[4:])
    return str(text)


CASES: list[tuple[str, str, list[Any]]] = [
    ("echoAddress", "address", ["0x" + "00" * 20, "0x" + "ff" * 20, "0x" + "12" * 20]),
    ("echoBool", "bool", [True, False]),
    ("echoU8", "uint8", [0, 1, 255]),
    ("echoU16", "uint16", [0, 65535, 258]),
    ("echoU32", "uint32", [0, 2**32 - 1, 123456789]),
    ("echoU64", "uint64", [0, 2**64 - 1, 2**63]),
    ("echoI8", "int8", [0, -1, -128, 127]),
    ("echoI16", "int16", [-(2**15), 2**15 - 1, -2]),
    ("echoI32", "int32", [-(2**31), 2**31 - 1, -77]),
    ("echoI64", "int64", [-(2**63), 2**63 - 1, -1]),
    ("echoU128", "uint128", [0, 2**128 - 1, 2**64, 2**64 - 1]),
    ("echoI128", "int128", [-(2**127), 2**127 - 1, -1, -(2**64)]),
    ("echoU256", "uint256", [0, 2**256 - 1, 2**192 + 5, 10**24]),
    ("echoI256", "int256", [-(2**255), 2**255 - 1, -1, 0, -(10**30)]),
    ("echoUint24", "uint24", [0, 2**24 - 1]),
    ("echoInt24", "int24", [-(2**23), 2**23 - 1, -5]),
    ("echoUint72", "uint72", [0, 2**72 - 1]),
    ("echoInt72", "int72", [-(2**71), 2**71 - 1]),
    ("echoUint160", "uint160", [0, 2**160 - 1]),
    ("echoInt200", "int200", [-(2**199), 2**199 - 1, -3]),
    ("echoUint256", "uint256", [2**255]),
    ("echoInt256", "int256", [-(2**200)]),
    ("echoString", "string", ["", "hello", "x" * 31, "y" * 32, "z" * 33, "zähler € 😀"]),
    ("echoBytes", "bytes", [b"", b"\x00", bytes(range(256)), b"a" * 64]),
    ("echoBytes1", "bytes1", [b"\xab"]),
    ("echoBytes4", "bytes4", [b"\xde\xad\xbe\xef", b"\x00\x00\x00\x01"]),
    ("echoBytes32", "bytes32", [bytes(range(32)), b"\xff" * 32]),
]


@pytest.mark.parametrize(("method", "kind", "values"), CASES, ids=[c[0] for c in CASES])
def test_echo_matches_eth_abi(
    contract: Contract, method: str, kind: str, values: list[Any]
) -> None:
    for value in values:
        result = echo(contract, method, kind, value)
        assert result.ok, (value, result.error, result.return_data)
        assert result.return_data == encode([kind], [value]), value


@settings(max_examples=150, deadline=None)
@given(
    u=st.integers(0, 2**256 - 1),
    i=st.integers(-(2**255), 2**255 - 1),
    i72=st.integers(-(2**71), 2**71 - 1),
    s=st.text(max_size=80),
    b=st.binary(max_size=100),
)
def test_random_values_round_trip(
    contract: Contract, u: int, i: int, i72: int, s: str, b: bytes
) -> None:
    assert echo(contract, "echoU256", "uint256", u).return_data == encode(["uint256"], [u])
    assert echo(contract, "echoI256", "int256", i).return_data == encode(["int256"], [i])
    assert echo(contract, "echoInt72", "int72", i72).return_data == encode(["int72"], [i72])
    assert echo(contract, "echoString", "string", s).return_data == encode(["string"], [s])
    assert echo(contract, "echoBytes", "bytes", b).return_data == encode(["bytes"], [b])


@settings(max_examples=60, deadline=None)
@given(
    a=st.binary(min_size=20, max_size=20),
    s=st.text(max_size=40),
    b=st.binary(max_size=70),
    n=st.integers(0, 2**256 - 1),
    f=st.booleans(),
    x=st.integers(-(2**23), 2**23 - 1),
)
def test_several_dynamic_arguments(
    contract: Contract, a: bytes, s: str, b: bytes, n: int, f: bool, x: int
) -> None:
    types = ["address", "string", "bytes", "uint256", "bool", "int24"]
    values = ["0x" + a.hex(), s, b, n, f, x]
    result = call(contract, f"mixed({','.join(types)})", encode(types, values))
    assert result.ok, result.error
    # The method re-encodes its arguments with AbiEncoder and returns them as `bytes`.
    (inner,) = decode(["bytes"], result.return_data)
    assert inner == encode(types, values)


def test_abi_decoder_class(contract: Contract) -> None:
    tuple_data = encode(["uint64", "string", "address"], [7, "decoded", "0x" + CALLER.hex()])
    result = call(contract, "decodeTuple(bytes)", encode(["bytes"], [tuple_data]))
    assert result.ok, reason(result)
    assert decode(["string"], result.return_data) == ("decoded",)


def test_raw_return_data(contract: Contract) -> None:
    result = call(contract, "rawReturn(bytes)", encode(["bytes"], [b"\x01\x02\x03"]))
    assert result.ok
    assert result.return_data == b"\x01\x02\x03"


@pytest.mark.parametrize(
    ("signature", "data", "message"),
    [
        ("echoU8(uint8)", (256).to_bytes(32, "big"), "ABI decoding: invalid uint"),
        ("echoU64(uint64)", (2**64).to_bytes(32, "big"), "ABI decoding: invalid uint"),
        ("echoUint24(uint24)", (2**24).to_bytes(32, "big"), "ABI decoding: invalid uint"),
        ("echoU256(uint256)", b"\x01" * 31, "ABI decoding: data too short"),
        ("echoI8(int8)", (128).to_bytes(32, "big"), "ABI decoding: invalid int"),
        ("echoI8(int8)", (2**256 - 129).to_bytes(32, "big"), "ABI decoding: invalid int"),
        ("echoInt200(int200)", (2**199).to_bytes(32, "big"), "ABI decoding: invalid int"),
        ("echoBool(bool)", (2).to_bytes(32, "big"), "ABI decoding: invalid bool"),
        ("echoAddress(address)", b"\x01" + bytes(31), "ABI decoding: invalid address"),
        ("echoBytes4(bytes4)", b"\xaa" * 5 + bytes(27), "ABI decoding: invalid bytesN"),
        ("echoString(string)", (64).to_bytes(32, "big"), "ABI decoding: data too short"),
        ("echoString(string)", (32).to_bytes(32, "big") + (5).to_bytes(32, "big") + b"ab",
         "ABI decoding: data too short"),
        ("echoBytes(bytes)", (2**40).to_bytes(32, "big"), "ABI decoding: data too short"),
    ],
)  # fmt: skip
def test_malformed_calldata_reverts(
    contract: Contract, signature: str, data: bytes, message: str
) -> None:
    assert reason(call(contract, signature, data)) == message


def test_unknown_selector_and_short_calldata(contract: Contract) -> None:
    assert contract.address is not None
    result = contract.kernel.call(
        contract.address, contract.state, ExecutionContext(), input=b"\xca\xfe\xba\xbe"
    )
    assert reason(result) == "unknown function selector 0xcafebabe"
    result = contract.kernel.call(
        contract.address, contract.state, ExecutionContext(), input=b"\x01"
    )
    assert reason(result) == "call data too short: expected a 4-byte function selector"


def test_values_out_of_range_for_their_abi_type_do_not_encode(contract: Contract) -> None:
    assert reason(call(contract, "tooWide()", b"")) == "ABI encoding: value out of range"


def test_events_with_indexed_static_and_dynamic_parameters(contract: Contract) -> None:
    who, tag, blob, amount, note, delta, raw = (
        "0x" + "ab" * 20, "tag ☃", b"\x00blob", 2**200 + 1, "a note", -42, b"r" * 40,
    )  # fmt: skip
    types = ["address", "string", "bytes", "uint256", "string", "int64", "bytes"]
    result = call(
        contract,
        f"emitEverything({','.join(types)})",
        encode(types, [who, tag, blob, amount, note, delta, raw]),
    )
    assert result.ok, result.error
    (log,) = result.logs
    assert log.address == contract.address
    signature = "Everything(address,string,bytes,uint256,string,int64,bytes)"
    assert log.topics == (
        k256(signature.encode()),
        encode(["address"], [who]),
        k256(tag.encode()),
        k256(blob),
    )
    assert log.data == encode(["uint256", "string", "int64", "bytes"], [amount, note, delta, raw])
    decoded = decode_log(contract.artifact.abi, log)
    assert decoded is not None and decoded.event == "Everything"
    assert decoded.args["amount"] == amount and decoded.args["delta"] == delta


def test_events_declared_in_a_library_file(contract: Contract) -> None:
    y = bytes(range(32))
    result = call(
        contract, "emitFromLibrary(uint32,bytes32)", encode(["uint32", "bytes32"], [9, y])
    )
    assert result.ok, result.error
    mixed, opaque = result.logs
    assert mixed.topics == (
        k256(b"Mixed(uint32,bytes32,address)"),
        (9).to_bytes(32, "big"),
        bytes(12) + CALLER,
    )
    assert mixed.data == y
    assert opaque.topics == (k256(b"Opaque()"),)
    assert opaque.data == b""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (0, ERROR + encode(["string"], ["plain reason"])),
        (1, k256(b"Insufficient(address,uint256)")[:4] + encode(["address", "uint256"],
                                                                 ["0x" + CALLER.hex(), 1])),
        (2, PANIC + (1).to_bytes(32, "big")),
        (3, PANIC + (0x12).to_bytes(32, "big")),
        (4, ERROR + encode(["string"], ["thrown reason"])),
        (5, k256(b"Empty()")[:4]),
        (6, ERROR + encode(["string"], ["required reason"])),
        (7, ERROR + encode(["string"], [""])),
    ],
)  # fmt: skip
def test_reverts_carry_solidity_revert_data(contract: Contract, kind: int, expected: bytes) -> None:
    result = call(contract, "fail(uint8)", encode(["uint8"], [kind]))
    assert not result.ok
    assert result.error is not None and result.error.kind.value == "revert"
    assert result.return_data == expected
    assert result.logs == ()


def test_no_failure(contract: Contract) -> None:
    result = call(contract, "fail(uint8)", encode(["uint8"], [99]))
    assert result.ok and result.return_data == (1).to_bytes(32, "big")


@settings(max_examples=120, deadline=None)
@given(
    a=st.one_of(st.integers(0, 2**256 - 1), st.integers(0, 2**130)),
    b=st.one_of(st.integers(0, 2**256 - 1), st.integers(0, 2**130), st.just(0), st.just(1)),
)
def test_checked_arithmetic(contract: Contract, a: int, b: int) -> None:
    for name, expected in (("add", a + b), ("sub", a - b), ("mul", a * b)):
        result = call(contract, f"{name}(uint256,uint256)", encode(["uint256"] * 2, [a, b]))
        if 0 <= expected < 2**256:
            assert result.ok, (name, a, b)
            assert decode(["uint256"], result.return_data) == (expected,)
        else:
            assert result.return_data == PANIC + (0x11).to_bytes(32, "big"), (name, a, b)


def test_generated_abi(abi_types: Artifact) -> None:
    items = {item.get("name"): item for item in abi_types.abi}
    assert "constructor" not in {i["type"] for i in abi_types.abi}
    assert items["echoUint24"] == {
        "type": "function",
        "name": "echoUint24",
        "inputs": [{"name": "v", "type": "uint24", "internalType": "uint24"}],
        "outputs": [{"name": "", "type": "uint24", "internalType": "uint24"}],
        "stateMutability": "pure",
    }
    assert items["fail"]["stateMutability"] == "nonpayable"
    assert items["rawReturn"]["outputs"] == []
    assert items["Everything"]["type"] == "event"
    assert [p["indexed"] for p in items["Everything"]["inputs"]] == [True] * 3 + [False] * 4
    assert items["Insufficient"] == {
        "type": "error",
        "name": "Insufficient",
        "inputs": [
            {"name": "account", "type": "address", "internalType": "address"},
            {"name": "needed", "type": "uint256", "internalType": "uint256"},
        ],
    }
    assert items["Mixed"]["inputs"][1] == {
        "name": "y", "type": "bytes32", "internalType": "bytes32", "indexed": False,
    }  # fmt: skip
    # Private helpers and the SDK's own functions are not part of the ABI.
    functions = {i["name"] for i in abi_types.abi if i["type"] == "function"}
    assert len(functions) == 27 + 10
