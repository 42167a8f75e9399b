"""Sealer key files: one secp256k1 private key, as hex, in a file only its owner reads."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import coincurve

from supervm.crypto import keccak256
from supervm.errors import SuperVMError

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeyFileError(SuperVMError):
    """A key file that is missing or does not hold a private key."""


def address_of(private_key: bytes) -> bytes:
    """The 20-byte address of ``private_key``."""
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return keccak256(public[1:])[12:]


def load_key(path: Path) -> bytes:
    """The 32-byte private key in ``path``: hex, with or without ``0x``, whitespace ignored.

    :raises KeyFileError: naming the file and what is wrong with it.
    """
    try:
        text = path.read_text(encoding="ascii", errors="strict").strip()
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc}") from None
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        raise KeyFileError(f"key file {path} does not hold a hex private key") from None
    if len(key) != 32:
        raise KeyFileError(
            f"key file {path} holds {len(key)} bytes; a private key is 32 bytes (64 hex digits)"
        )
    if not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise KeyFileError(f"key file {path} holds a value that is not a secp256k1 private key")
    return key


def write_new_key(path: Path) -> bytes:
    """Write a new random private key to ``path`` (created with mode 0600, never overwritten)
    and return its address.

    :raises KeyFileError: if ``path`` exists already or cannot be written.
    """
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
            break
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists already: refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {path}: {exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write("0x" + key.hex() + "\n")
    return address_of(key)
