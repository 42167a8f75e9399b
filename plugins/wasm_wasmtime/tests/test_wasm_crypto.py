"""Cryptographic host functions against reference values computed in Python."""

from __future__ import annotations

import hashlib

import coincurve
import nacl.signing
import pytest
from coincurve.ecdsa import der_to_cdata, serialize_compact
from supervm import ErrorKind
from supervm.crypto import keccak256
from supervm_wasm_wasmtime import crypto

# Every export reads its operands from the call data (copied to offset 0) and writes its output
# at 8192, returned as return data; the host function's result is the export's value.
CRYPTO = """
(module
  (import "supervm" "sha256" (func $sha (param i32 i32 i32) (result i32)))
  (import "supervm" "keccak256" (func $kec (param i32 i32 i32) (result i32)))
  (import "supervm" "verify_ed25519" (func $ed (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "verify_secp256k1" (func $k1 (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "recover_secp256k1_pubkey" (func $rec (param i32 i32 i32) (result i32)))
  (import "supervm" "derive_eth_address" (func $addr (param i32 i32 i32) (result i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "sha256") (result i32)
    (local $r i32)
    (call $rin (i32.const 0))
    (local.set $r (call $sha (i32.const 0) (call $ilen) (i32.const 8192)))
    (call $ret (i32.const 8192) (i32.const 32))
    (local.get $r))
  (func (export "keccak256") (result i32)
    (local $r i32)
    (call $rin (i32.const 0))
    (local.set $r (call $kec (i32.const 0) (call $ilen) (i32.const 8192)))
    (call $ret (i32.const 8192) (i32.const 32))
    (local.get $r))
  ;; input: signature (64) || public key (32) || message
  (func (export "verify_ed25519") (result i32)
    (call $rin (i32.const 0))
    (call $ed (i32.const 96) (i32.sub (call $ilen) (i32.const 96)) (i32.const 0) (i32.const 64)))
  ;; input: message hash (32) || signature (64) || public key
  (func (export "verify_secp256k1") (result i32)
    (call $rin (i32.const 0))
    (call $k1 (i32.const 0) (i32.const 32) (i32.const 96) (i32.sub (call $ilen) (i32.const 96))))
  ;; input: message hash (32) || signature r || s || v (65)
  (func (export "recover") (result i32)
    (local $r i32)
    (call $rin (i32.const 0))
    (local.set $r (call $rec (i32.const 0) (i32.const 32) (i32.const 8192)))
    (call $ret (i32.const 8192) (i32.const 65))
    (local.get $r))
  ;; input: public key
  (func (export "derive") (result i32)
    (local $r i32)
    (call $rin (i32.const 0))
    (local.set $r (call $addr (i32.const 0) (call $ilen) (i32.const 8192)))
    (call $ret (i32.const 8192) (i32.const 20))
    (local.get $r))
  (func (export "sha256_outside") (result i32)
    (call $sha (i32.const 0) (i32.const 4) (i32.const 65530))))
"""

KECCAK_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
#: keccak256(b"abc"), the Ethereum test vector.
KECCAK_ABC = bytes.fromhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
#: The address of the secp256k1 private key 1.
KEY_ONE_ADDRESS = bytes.fromhex("7E5F4552091A69125d5DfCb7b8C2659029395Bdf")

MSG_HASH = hashlib.sha256(b"a message to sign").digest()


@pytest.fixture
def call(run):
    def call_(entry: str, data: bytes):
        result = run(CRYPTO, entry, input=data)
        assert result.ok, result.error
        return result

    return call_


@pytest.mark.parametrize("data", [b"", b"abc", b"\x00" * 31, bytes(range(256)) * 3])
def test_sha256(call, data: bytes) -> None:
    result = call("sha256", data)
    assert result.value == 0
    assert result.return_data == hashlib.sha256(data).digest()


def test_keccak256_known_vectors(call) -> None:
    assert keccak256(b"") == KECCAK_EMPTY
    assert call("keccak256", b"").return_data == KECCAK_EMPTY
    assert call("keccak256", b"abc").return_data == KECCAK_ABC
    # Ethereum's Keccak-256 is not NIST SHA3-256.
    assert call("keccak256", b"").return_data != hashlib.sha3_256(b"").digest()


@pytest.mark.parametrize("data", [b"x", bytes(range(200))])
def test_keccak256_matches_pycryptodome(call, data: bytes) -> None:
    from Crypto.Hash import keccak

    expected = keccak.new(data=data, digest_bits=256).digest()
    assert call("keccak256", data).return_data == expected


def test_hash_gas_grows_per_word(run) -> None:
    one = run(CRYPTO, "sha256", input=b"a" * 32)
    two = run(CRYPTO, "sha256", input=b"a" * 64)
    # One more 32-byte word hashed (12) and 32 more bytes read as input (32).
    assert two.gas_used - one.gas_used == crypto.HASH_WORD_GAS["sha256"] + 32


def test_hash_output_outside_memory_is_a_host_error(run) -> None:
    result = run(CRYPTO, "sha256_outside")
    assert result.error is not None and result.error.kind is ErrorKind.HOST
    assert "supervm.sha256" in result.error.message and "outside" in result.error.message


# -- ed25519 -----------------------------------------------------------------------------------

ED_KEY = nacl.signing.SigningKey(bytes(range(32)))


def _ed_input(message: bytes, signature: bytes, public_key: bytes) -> bytes:
    return signature + public_key + message


def test_verify_ed25519_valid(call) -> None:
    message = b"pay 10 to bob"
    signature = ED_KEY.sign(message).signature
    data = _ed_input(message, signature, bytes(ED_KEY.verify_key))
    assert call("verify_ed25519", data).value == 1


def test_verify_ed25519_empty_message(call) -> None:
    signature = ED_KEY.sign(b"").signature
    assert call("verify_ed25519", _ed_input(b"", signature, bytes(ED_KEY.verify_key))).value == 1


def test_verify_ed25519_invalid(call) -> None:
    message = b"pay 10 to bob"
    signature = ED_KEY.sign(message).signature
    other_key = bytes(nacl.signing.SigningKey(b"\x07" * 32).verify_key)
    vk = bytes(ED_KEY.verify_key)
    assert call("verify_ed25519", _ed_input(b"pay 99 to bob", signature, vk)).value == 0
    assert call("verify_ed25519", _ed_input(message, signature, other_key)).value == 0
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert call("verify_ed25519", _ed_input(message, tampered, vk)).value == 0


@pytest.mark.parametrize("public_key", [b"\xff" * 32, bytes(32)], ids=["non-canonical", "zero"])
def test_verify_ed25519_malformed_key_is_not_valid(call, public_key: bytes) -> None:
    signature = ED_KEY.sign(b"m").signature
    # libsodium rejects these keys as a failed verification; either way never "valid".
    assert call("verify_ed25519", _ed_input(b"m", signature, public_key)).value in (0, -1)


def test_verify_ed25519_malformed_signature_is_not_valid(call) -> None:
    data = _ed_input(b"m", b"\xff" * 64, bytes(ED_KEY.verify_key))
    assert call("verify_ed25519", data).value in (0, -1)


# -- secp256k1 ---------------------------------------------------------------------------------

K1 = coincurve.PrivateKey(
    bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
)


def _compact(key: coincurve.PrivateKey, msg_hash: bytes) -> bytes:
    return serialize_compact(der_to_cdata(key.sign(msg_hash, hasher=None)))


@pytest.mark.parametrize("compressed", [True, False], ids=["33-byte", "65-byte"])
def test_verify_secp256k1_valid(call, compressed: bool) -> None:
    signature = _compact(K1, MSG_HASH)
    assert len(signature) == 64
    public_key = K1.public_key.format(compressed=compressed)
    assert call("verify_secp256k1", MSG_HASH + signature + public_key).value == 1


def test_verify_secp256k1_with_recoverable_signature_minus_v(call) -> None:
    signature = K1.sign_recoverable(MSG_HASH, hasher=None)[:64]
    public_key = K1.public_key.format()
    assert call("verify_secp256k1", MSG_HASH + signature + public_key).value == 1


def test_verify_secp256k1_invalid(call) -> None:
    signature = _compact(K1, MSG_HASH)
    other_hash = hashlib.sha256(b"another message").digest()
    public_key = K1.public_key.format()
    assert call("verify_secp256k1", other_hash + signature + public_key).value == 0
    other_key = coincurve.PrivateKey(b"\x02" * 32).public_key.format()
    assert call("verify_secp256k1", MSG_HASH + signature + other_key).value == 0


@pytest.mark.parametrize("length", [0, 20, 32, 64, 66])
def test_verify_secp256k1_bad_key_length(call, length: int) -> None:
    signature = _compact(K1, MSG_HASH)
    public_key = K1.public_key.format(compressed=False)[:length].ljust(length, b"\x01")
    assert call("verify_secp256k1", MSG_HASH + signature + public_key).value == -2


@pytest.mark.parametrize(
    "public_key",
    [b"\x04" + b"\x01" * 64, b"\x05" + b"\x01" * 32, b"\x02" + b"\xff" * 32],
    ids=["not-on-curve", "bad-prefix", "x-too-large"],
)
def test_verify_secp256k1_malformed_key(call, public_key: bytes) -> None:
    signature = _compact(K1, MSG_HASH)
    assert call("verify_secp256k1", MSG_HASH + signature + public_key).value == -1


def test_verify_secp256k1_malformed_signature(call) -> None:
    public_key = K1.public_key.format()
    assert call("verify_secp256k1", MSG_HASH + b"\xff" * 64 + public_key).value == -1


@pytest.mark.parametrize("v_offset", [0, 27], ids=["v=0/1", "v=27/28"])
def test_recover_secp256k1_pubkey(call, v_offset: int) -> None:
    signature = K1.sign_recoverable(MSG_HASH, hasher=None)
    assert signature[64] in (0, 1)
    signature = signature[:64] + bytes([signature[64] + v_offset])
    result = call("recover", MSG_HASH + signature)
    assert result.value == 0
    assert result.return_data == K1.public_key.format(compressed=False)


def test_recover_secp256k1_pubkey_other_message_gives_other_key(call) -> None:
    signature = K1.sign_recoverable(MSG_HASH, hasher=None)
    other = hashlib.sha256(b"different").digest()
    result = call("recover", other + signature)
    assert result.value == 0
    assert result.return_data != K1.public_key.format(compressed=False)


@pytest.mark.parametrize("v", [2, 26, 29, 255])
def test_recover_secp256k1_pubkey_bad_v(call, v: int) -> None:
    signature = K1.sign_recoverable(MSG_HASH, hasher=None)[:64] + bytes([v])
    result = call("recover", MSG_HASH + signature)
    assert result.value == -1
    assert result.return_data == bytes(65)  # nothing written


def test_recover_secp256k1_pubkey_unrecoverable(call) -> None:
    result = call("recover", MSG_HASH + b"\x00" * 64 + b"\x00")
    assert result.value == -1


def _eth_address(key: coincurve.PrivateKey) -> bytes:
    return keccak256(key.public_key.format(compressed=False)[1:])[12:]


@pytest.mark.parametrize("form", ["raw64", "uncompressed65", "compressed33"])
def test_derive_eth_address(call, form: str) -> None:
    uncompressed = K1.public_key.format(compressed=False)
    public_key = {
        "raw64": uncompressed[1:],
        "uncompressed65": uncompressed,
        "compressed33": K1.public_key.format(compressed=True),
    }[form]
    result = call("derive", public_key)
    assert result.value == 0
    assert result.return_data == _eth_address(K1)
    assert result.return_data == keccak256(uncompressed[1:])[12:]


def test_derive_eth_address_well_known_vector(call) -> None:
    key_one = coincurve.PrivateKey((1).to_bytes(32, "big"))
    for public_key in (
        key_one.public_key.format(compressed=False),
        key_one.public_key.format(compressed=False)[1:],
        key_one.public_key.format(compressed=True),
    ):
        assert call("derive", public_key).return_data == KEY_ONE_ADDRESS


def test_derive_eth_address_of_recovered_key(call) -> None:
    signature = K1.sign_recoverable(MSG_HASH, hasher=None)
    recovered = call("recover", MSG_HASH + signature).return_data
    assert call("derive", recovered).return_data == _eth_address(K1)


@pytest.mark.parametrize("length", [0, 20, 32, 63, 66])
def test_derive_eth_address_bad_length(call, length: int) -> None:
    result = call("derive", b"\x04" * length)
    assert result.value == -2
    assert result.return_data == bytes(20)


@pytest.mark.parametrize(
    "public_key", [b"\x04" + b"\x01" * 64, b"\x01" * 64, b"\x02" + b"\xff" * 32]
)
def test_derive_eth_address_not_on_curve(call, public_key: bytes) -> None:
    result = call("derive", public_key)
    assert result.value == -1
    assert result.return_data == bytes(20)


def test_crypto_gas_is_charged(run) -> None:
    signature = _compact(K1, MSG_HASH)
    result = run(CRYPTO, "verify_secp256k1", input=MSG_HASH + signature + K1.public_key.format())
    assert result.gas_used > crypto.GAS["verify_secp256k1"]
