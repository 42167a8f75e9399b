"""The SDK's context, storage, crypto and event helpers, with the SDK's test contract
(sdk/assemblyscript/tests/contracts/Context.ts) on SuperVM's WASM runtime."""

from __future__ import annotations

import hashlib
from typing import Any

import coincurve
import nacl.signing
import pytest
from Crypto.Hash import keccak
from eth_abi import decode, encode
from supervm import ExecutionContext, ExecutionResult, Kernel
from supervm.state.keys import storage_key
from supervm.tooling.abi import selector
from supervm.tooling.compilers import Artifact
from supervm.tooling.contracts import Contract

DEPLOYER = bytes.fromhex("d0" * 20)
ALICE = bytes.fromhex("a1" * 20)


@pytest.fixture
def probe(kernel: Kernel, context_probe: Artifact) -> Contract:
    c = Contract(kernel, context_probe, kernel.open_storage("memory"))
    assert c.deploy(ExecutionContext(caller=DEPLOYER)).ok
    return c


def call(
    c: Contract, signature: str, types: list[str] | None = None, values: list[Any] | None = None,
    **context: Any,
) -> ExecutionResult:  # fmt: skip
    assert c.address is not None
    data = selector(signature) + encode(types or [], values or [])
    result = c.kernel.call(c.address, c.state, ExecutionContext(**context), input=data)
    assert result.ok, (signature, result.error, result.return_data)
    return result


def value(c: Contract, signature: str, out: str, *args: tuple[str, Any], **context: Any) -> Any:
    result = call(c, signature, [t for t, _ in args], [v for _, v in args], **context)
    (decoded,) = decode([out], result.return_data)
    return decoded


def test_context(probe: Contract) -> None:
    ctx = {"caller": ALICE, "block_number": 77, "timestamp": 1_700_000_000}
    assert value(probe, "caller()", "address", **ctx) == "0x" + ALICE.hex()
    assert value(probe, "self()", "address", **ctx) == "0x" + probe.address.hex()  # type: ignore[union-attr]
    assert value(probe, "blockNumber()", "uint64", **ctx) == 77
    assert value(probe, "rawBlockNumber()", "int64", **ctx) == 77
    assert value(probe, "timestamp()", "uint64", **ctx) == 1_700_000_000
    left = value(probe, "gasLeft()", "uint64", gas_limit=1_000_000)
    assert 900_000 < left < 1_000_000
    data = selector("input()")
    assert value(probe, "input()", "bytes") == data


def test_typed_storage_round_trips(probe: Contract) -> None:
    assert value(probe, "flagValue()", "bool") is False
    assert value(probe, "textValue()", "string") == ""
    assert value(probe, "whoValue()", "address") == "0x" + "00" * 20
    assert value(probe, "has()", "bool") is False
    assert value(probe, "textOr(string)", "string", ("string", "fallback")) == "fallback"
    types = ["bool", "int64", "uint128", "int256", "int128", "address", "bytes", "string"]
    values = [True, -5, 2**127 + 3, -(2**250), -(2**100), "0x" + ALICE.hex(), b"\x00\x01", "π"]
    call(probe, f"store({','.join(types)})", types, values)
    assert value(probe, "flagValue()", "bool") is True
    assert value(probe, "smallValue()", "int64") == -5
    assert value(probe, "bigValue()", "uint128") == 2**127 + 3
    assert value(probe, "signedValue()", "int256") == -(2**250)
    assert value(probe, "signed128Value()", "int128") == -(2**100)
    assert value(probe, "whoValue()", "address") == "0x" + ALICE.hex()
    assert value(probe, "blobValue()", "bytes") == b"\x00\x01"
    assert value(probe, "textValue()", "string") == "π"
    assert value(probe, "has()", "bool") is True
    assert value(probe, "textOr(string)", "string", ("string", "fallback")) == "π"
    call(probe, "clear()")
    assert value(probe, "has()", "bool") is False
    assert value(probe, "blobValue()", "bytes") == b""


def test_storage_layout(probe: Contract) -> None:
    """Values live under their names, map entries under name ‖ 0x00 ‖ key."""
    assert probe.address is not None
    types = ["bool", "int64", "uint128", "int256", "int128", "address", "bytes", "string"]
    call(
        probe, f"store({','.join(types)})", types, [True, 1, 2, 3, 4, "0x" + ALICE.hex(), b"b", "t"]
    )
    call(probe, "setByName(string,uint64)", ["string", "uint64"], ["k", 9])
    state = probe.state
    assert state.get(storage_key(probe.address, b"text")) == b"t"
    assert state.get(storage_key(probe.address, b"who")) == ALICE
    assert state.get(storage_key(probe.address, b"small")) == (1).to_bytes(8, "little")
    assert state.get(storage_key(probe.address, b"big")) == (2).to_bytes(16, "little")
    assert state.get(storage_key(probe.address, "zähler".encode())) == b"\x07"
    assert state.get(storage_key(probe.address, b"byName\x00k")) == (9).to_bytes(8, "little")


def test_maps(probe: Contract) -> None:
    assert value(probe, "getByName(string)", "uint64", ("string", "a")) == 0
    assert value(probe, "hasName(string)", "bool", ("string", "a")) is False
    call(probe, "setByName(string,uint64)", ["string", "uint64"], ["a", 11])
    call(probe, "setByName(string,uint64)", ["string", "uint64"], ["ab", 12])
    assert value(probe, "getByName(string)", "uint64", ("string", "a")) == 11
    assert value(probe, "getByName(string)", "uint64", ("string", "ab")) == 12
    assert value(probe, "hasName(string)", "bool", ("string", "a")) is True
    call(probe, "deleteName(string)", ["string"], ["a"])
    assert value(probe, "hasName(string)", "bool", ("string", "a")) is False
    assert value(probe, "getByNumber(uint32)", "string", ("uint32", 5)) == "none"
    call(probe, "setByNumber(uint32,string)", ["uint32", "string"], [5, "five"])
    assert value(probe, "getByNumber(uint32)", "string", ("uint32", 5)) == "five"
    # Nested maps with a variable-length first key: ("a", X) and ("ab", Y) never collide.
    call(probe, "setNested(string,address,uint256)", ["string", "address", "uint256"],
         ["a", "0x" + ALICE.hex(), 2**255])  # fmt: skip
    args = [("string", "a"), ("address", "0x" + ALICE.hex())]
    assert value(probe, "getNested(string,address)", "uint256", *args) == 2**255
    args = [("string", "ab"), ("address", "0x" + ALICE.hex())]
    assert value(probe, "getNested(string,address)", "uint256", *args) == 0


def test_raw_storage(probe: Contract) -> None:
    assert probe.address is not None
    call(probe, "rawSet(bytes,bytes)", ["bytes", "bytes"], [b"\xffraw", b"value"])
    assert probe.state.get(storage_key(probe.address, b"\xffraw")) == b"value"
    assert value(probe, "rawGet(bytes)", "bytes", ("bytes", b"\xffraw")) == b"value"
    assert value(probe, "rawGet(bytes)", "bytes", ("bytes", b"nope")) == b""


def test_hashes(probe: Contract) -> None:
    data = b"The quick brown fox" * 5
    assert (
        value(probe, "keccak(bytes)", "bytes32", ("bytes", data))
        == keccak.new(data=data, digest_bits=256).digest()
    )
    signature = ("string", "Transfer(address,address,uint256)")
    assert value(probe, "keccakText(string)", "bytes32", signature) == bytes.fromhex(
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )
    assert value(probe, "sha(bytes)", "bytes32", ("bytes", data)) == hashlib.sha256(data).digest()
    text = "zähler € 😀"
    assert value(probe, "utf8Of(string)", "bytes", ("string", text)) == text.encode()


def test_signatures(probe: Contract) -> None:
    signing = nacl.signing.SigningKey(b"\x07" * 32)
    message = b"hello"
    signature = signing.sign(message).signature
    key = bytes(signing.verify_key)
    args = [("bytes", message), ("bytes", signature), ("bytes", key)]
    assert value(probe, "ed25519(bytes,bytes,bytes)", "bool", *args) is True
    args[0] = ("bytes", b"hellO")
    assert value(probe, "ed25519(bytes,bytes,bytes)", "bool", *args) is False

    private = coincurve.PrivateKey(b"\x05" * 32)
    digest = keccak.new(data=b"payload", digest_bits=256).digest()
    recoverable = private.sign_recoverable(digest, hasher=None)
    compact = recoverable[:64]
    public = private.public_key.format(compressed=False)
    args = [("bytes32", digest), ("bytes", compact), ("bytes", public)]
    assert value(probe, "secp256k1(bytes32,bytes,bytes)", "bool", *args) is True
    recovered = value(
        probe, "recover(bytes32,bytes)", "bytes", ("bytes32", digest), ("bytes", recoverable)
    )
    assert recovered == public
    address = "0x" + keccak.new(data=public[1:], digest_bits=256).digest()[12:].hex()
    assert value(probe, "addressOf(bytes)", "address", ("bytes", public)) == address
    assert (
        value(
            probe, "signer(bytes32,bytes)", "address", ("bytes32", digest), ("bytes", recoverable)
        )
        == address
    )
    assert value(probe, "addressOf(bytes)", "address", ("bytes", b"\x01\x02")) == "0x" + "00" * 20


def test_opaque_events(probe: Contract) -> None:
    result = call(probe, "opaque(bytes,bytes)", ["bytes", "bytes"], [b"first", b"second"])
    assert [e.data for e in result.events] == [b"first", b"second"]
    assert decode(["bytes"], result.return_data) == (b"second",)


def test_address_helpers(probe: Contract) -> None:
    a = "0x" + "0a" * 10 + "ff" * 10
    assert value(probe, "hexOf(address)", "string", ("address", a)) == a
    assert (
        value(probe, "fromHex(string)", "address", ("string", a.upper().replace("0X", "0x"))) == a
    )
    assert value(probe, "fromHex(string)", "address", ("string", a[2:])) == a
    assert value(probe, "isZero(address)", "bool", ("address", "0x" + "00" * 20)) is True
    assert value(probe, "isZero(address)", "bool", ("address", a)) is False
    assert value(probe, "same(address,address)", "bool", ("address", a), ("address", a)) is True
    assert (
        value(probe, "same(address,address)", "bool", ("address", a), ("address", "0x" + "00" * 20))
        is False
    )
    assert value(probe, "fromBytes(bytes)", "address", ("bytes", bytes.fromhex(a[2:]))) == a
    assert value(probe, "copyBytes(bytes)", "bytes", ("bytes", b"xyz")) == b"xyz"
    assert probe.address is not None
    bad = probe.kernel.call(
        probe.address, probe.state, ExecutionContext(),
        input=selector("fromHex(string)") + encode(["string"], ["0x1234"]),
    )  # fmt: skip
    assert not bad.ok
    assert decode(["string"], bad.return_data[4:]) == ("Address: expected 40 hex digits",)
    bad = probe.kernel.call(
        probe.address, probe.state, ExecutionContext(),
        input=selector("fromBytes(bytes)") + encode(["bytes"], [b"\x01"]),
    )  # fmt: skip
    assert decode(["string"], bad.return_data[4:]) == ("Address: expected 20 bytes",)


@pytest.mark.parametrize("size", [63, 64, 65, 1000, 20_000])
def test_long_values_are_read_whole(probe: Contract, size: int) -> None:
    text = "".join(chr(0x41 + i % 26) for i in range(size))
    blob = bytes(i % 251 for i in range(size))
    types = ["bool", "int64", "uint128", "int256", "int128", "address", "bytes", "string"]
    call(
        probe,
        f"store({','.join(types)})",
        types,
        [True, 0, 0, 0, 0, "0x" + ALICE.hex(), blob, text],
    )
    assert value(probe, "textValue()", "string") == text
    assert value(probe, "blobValue()", "bytes") == blob
    call(probe, "setByNumber(uint32,string)", ["uint32", "string"], [1, text])
    assert value(probe, "getByNumber(uint32)", "string", ("uint32", 1)) == text
