"""Validator key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from supervm.chain.dev_accounts import dev_account
from supervm.node.keyfile import KeyFileError, address_of, load_key, write_new_key


def test_a_key_reads_with_or_without_0x_and_whitespace(tmp_path: Path) -> None:
    account = dev_account(3)
    for text in ("0x" + account.private_key.hex(), "  " + account.private_key.hex().upper() + "\n"):
        path = tmp_path / "k"
        path.write_text(text)
        assert load_key(path) == account.private_key
    assert address_of(account.private_key) == account.address


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zz", "does not hold a hex private key"),
        ("00" * 31, "holds 31 bytes"),
        ("00" * 32, "not a secp256k1 private key"),
        ("ff" * 32, "not a secp256k1 private key"),
    ],
)
def test_bad_key_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "k"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=message):
        load_key(path)


def test_a_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key(tmp_path / "nope")


def test_a_new_key_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "validator.key"
    address = write_new_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert address_of(load_key(path)) == address
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_new_key(path)
    assert address_of(load_key(path)) == address
