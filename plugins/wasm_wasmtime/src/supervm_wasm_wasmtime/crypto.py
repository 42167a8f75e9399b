"""Cryptographic host functions: hashes, signature checks and Ethereum key helpers.

Verification functions return 1 for valid, 0 for invalid and a negative code for malformed
input, so that a contract can tell a bad signature from bad data:

- ``-1``: a public key or signature that cannot be parsed;
- ``-2``: a length the function does not accept.
"""

from __future__ import annotations

import functools
import hashlib

import coincurve
import nacl.exceptions
import nacl.signing
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from nacl.bindings import crypto_core_ed25519_is_valid_point
from supervm import HostFunction
from supervm.crypto import keccak256 as _keccak256  # this module's keccak256: the host function

from .abi import host_function
from .frame import Frame

MALFORMED = -1
BAD_LENGTH = -2

GAS = {
    "sha256": 60,
    "keccak256": 30,
    "verify_ed25519": 2000,
    "verify_secp256k1": 3000,
    "recover_secp256k1_pubkey": 3000,
    "derive_eth_address": 100,
}
#: Gas per 32-byte word hashed, as the EVM charges.
HASH_WORD_GAS = {"sha256": 12, "keccak256": 6}
#: Gas per message byte verified by ed25519 (it hashes the message).
ED25519_BYTE_GAS = 1


def _words(length: int) -> int:
    return (length + 31) // 32


def sha256(frame: Frame, ptr: int, length: int, out_ptr: int) -> int:
    frame.charge(HASH_WORD_GAS["sha256"] * _words(length))
    frame.write(out_ptr, hashlib.sha256(frame.read(ptr, length)).digest())
    return 0


def keccak256(frame: Frame, ptr: int, length: int, out_ptr: int) -> int:
    frame.charge(HASH_WORD_GAS["keccak256"] * _words(length))
    frame.write(out_ptr, _keccak256(frame.read(ptr, length)))
    return 0


def verify_ed25519(frame: Frame, msg_ptr: int, msg_len: int, sig_ptr: int, pubkey_ptr: int) -> int:
    frame.charge(ED25519_BYTE_GAS * msg_len)
    message = frame.read(msg_ptr, msg_len)
    signature = frame.read(sig_ptr, 64)
    raw_key = frame.read(pubkey_ptr, 32)
    # libsodium reports a key that is not a curve point as a bad signature; name it malformed.
    if not crypto_core_ed25519_is_valid_point(raw_key):
        return MALFORMED
    try:
        key = nacl.signing.VerifyKey(raw_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return MALFORMED
    try:
        key.verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return 0
    except (nacl.exceptions.CryptoError, ValueError):
        return MALFORMED
    return 1


def verify_secp256k1(
    frame: Frame, msg_ptr: int, sig_ptr: int, pubkey_ptr: int, pubkey_len: int
) -> int:
    """Verify a 64-byte compact (r || s) signature of a 32-byte message hash."""
    if pubkey_len not in (33, 65):
        return BAD_LENGTH
    message = frame.read(msg_ptr, 32)
    signature = frame.read(sig_ptr, 64)
    try:
        key = coincurve.PublicKey(frame.read(pubkey_ptr, pubkey_len))
        der = cdata_to_der(deserialize_compact(signature))
    except (ValueError, TypeError):
        return MALFORMED
    try:
        ok = key.verify(der, message, hasher=None)
    except (ValueError, TypeError):
        return MALFORMED
    return 1 if ok else 0


def recover_secp256k1_pubkey(frame: Frame, msg_ptr: int, sig_ptr: int, out_ptr: int) -> int:
    """Recover the 65-byte uncompressed key from a 65-byte (r || s || v) signature."""
    message = frame.read(msg_ptr, 32)
    signature = bytearray(frame.read(sig_ptr, 65))
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        return MALFORMED
    signature[64] = v
    try:
        key = coincurve.PublicKey.from_signature_and_message(bytes(signature), message, hasher=None)
    except (ValueError, TypeError):
        return MALFORMED
    frame.write(out_ptr, key.format(compressed=False))
    return 0


def derive_eth_address(frame: Frame, pubkey_ptr: int, pubkey_len: int, out_ptr: int) -> int:
    """Ethereum address of a secp256k1 key: 64-byte raw, 65-byte uncompressed or 33-byte."""
    if pubkey_len not in (33, 64, 65):
        return BAD_LENGTH
    raw = frame.read(pubkey_ptr, pubkey_len)
    try:
        if pubkey_len == 64:
            raw = b"\x04" + raw
        point = coincurve.PublicKey(raw).format(compressed=False)[1:]
    except (ValueError, TypeError):
        return MALFORMED
    frame.write(out_ptr, _keccak256(point)[12:])
    return 0


_fn = functools.partial(host_function, gas=GAS)


def crypto_functions() -> list[HostFunction]:
    """The cryptographic host functions, in documentation order."""
    return [
        _fn("sha256", "i32 i32 i32", "i32", sha256, "SHA-256 of memory to 32 bytes at out_ptr."),
        _fn("keccak256", "i32 i32 i32", "i32", keccak256,
            "Keccak-256 (Ethereum) of memory to 32 bytes at out_ptr."),
        _fn("verify_ed25519", "i32 i32 i32 i32", "i32", verify_ed25519,
            "Verify a 64-byte Ed25519 signature with a 32-byte key."),
        _fn("verify_secp256k1", "i32 i32 i32 i32", "i32", verify_secp256k1,
            "Verify a 64-byte secp256k1 signature of a 32-byte hash with a 33/65-byte key."),
        _fn("recover_secp256k1_pubkey", "i32 i32 i32", "i32", recover_secp256k1_pubkey,
            "Recover the 65-byte public key from a 32-byte hash and 65-byte signature."),
        _fn("derive_eth_address", "i32 i32 i32", "i32", derive_eth_address,
            "Ethereum address (20 bytes) of a 33, 64 or 65-byte secp256k1 public key."),
    ]  # fmt: skip
