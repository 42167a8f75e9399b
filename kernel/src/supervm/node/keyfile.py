"""Validator key files: one secp256k1 private key as hex, readable by its owner only.

The node's producer reads one (``--validator-key``); consensus plugins and ``supervm key new``
use the same functions.

A key file holds 64 hex digits, with or without ``0x``; surrounding whitespace (a trailing
newline) is ignored. It is the format of geth's ``--nodekey`` and of ``ethkey``'s plain
output, so a key made elsewhere can be pasted in.
"""

from __future__ import annotations

import os
from pathlib import Path

import coincurve

from supervm.crypto import keccak256
from supervm.errors import SuperVMError


class ValidatorKeyError(SuperVMError):
    """A validator key file cannot be read or written; the message names the file and why."""


def _key_address(key: coincurve.PrivateKey) -> bytes:
    return keccak256(key.public_key.format(compressed=False)[1:])[12:]


def address_of(private_key: bytes) -> bytes:
    """The 20-byte address of a 32-byte private key."""
    return _key_address(coincurve.PrivateKey(private_key))


def load_validator_key(path: Path | str) -> bytes:
    """The 32-byte private key in the key file at ``path``.

    :raises ValidatorKeyError: if the file is missing or unreadable, or does not hold exactly
        one valid 32-byte secp256k1 key in hex.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValidatorKeyError(f"{path}: no such validator key file") from None
    except IsADirectoryError:
        raise ValidatorKeyError(f"{path}: is a directory, not a validator key file") from None
    except OSError as exc:
        raise ValidatorKeyError(f"{path}: cannot read the validator key: {exc.strerror}") from None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValidatorKeyError(
            f"{path}: a validator key file holds a private key as hex text"
        ) from None
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValidatorKeyError(
            f"{path}: the validator key is not hex (expected 64 hex digits, optionally 0x-prefixed)"
        )
    if len(digits) != 64:
        raise ValidatorKeyError(
            f"{path}: a validator key is 32 bytes (64 hex digits), got {len(digits)} digits"
        )
    key = bytes.fromhex(digits)
    try:
        coincurve.PrivateKey(key)
    except ValueError:
        raise ValidatorKeyError(
            f"{path}: not a valid secp256k1 private key (zero, or not below the curve order)"
        ) from None
    return key


def write_validator_key(path: Path | str) -> bytes:
    """Create a key file at ``path`` holding a new random key, readable by its owner only
    (mode 0600), and return the key's 20-byte address.

    The file must not exist yet: an existing key is never overwritten.

    :raises ValidatorKeyError: if the file exists or cannot be created.
    """
    path = Path(path)
    key = coincurve.PrivateKey()  # from the operating system's randomness
    try:
        # O_EXCL: never replace a key; the mode is set at creation, so no moment exists when
        # another user could read the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidatorKeyError(
            f"{path}: already exists; a key file is never overwritten"
        ) from None
    except OSError as exc:
        raise ValidatorKeyError(f"{path}: cannot create the key file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), 0o600)  # exactly 0600, whatever the umask
            out.write("0x" + key.secret.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise ValidatorKeyError(f"{path}: cannot write the key file: {exc.strerror}") from None
    return _key_address(key)
