"""Validator key files and the poa genesis helper."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from supervm.chain.dev_accounts import dev_account
from supervm.chain.genesis import parse_genesis
from supervm_consensus_poa import (
    ValidatorKeyError,
    address_of_key,
    load_validator_key,
    poa_genesis,
    write_validator_key,
)

ALICE = dev_account(0)


@pytest.mark.parametrize(
    "text",
    [
        ALICE.private_key.hex(),
        "0x" + ALICE.private_key.hex(),
        "0X" + ALICE.private_key.hex().upper(),
        "  0x" + ALICE.private_key.hex() + "\n\n",
        "\t" + ALICE.private_key.hex() + "\r\n",
    ],
)
def test_a_key_file_holds_hex_with_or_without_0x(tmp_path: Path, text: str) -> None:
    path = tmp_path / "validator.key"
    path.write_text(text)
    assert load_validator_key(path) == ALICE.private_key
    assert load_validator_key(str(path)) == ALICE.private_key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not hex"),
        (b"0x", "not hex"),
        (b"0x" + b"ab" * 31, "32 bytes \\(64 hex digits\\), got 62 digits"),
        (b"ab" * 33, "got 66 digits"),
        (b"zz" * 32, "not hex"),
        (b"0x" + b"ab" * 16 + b" " + b"ab" * 16, "not hex"),
        ("é".encode() * 32, "hex text"),
        (b"00" * 32, "not a valid secp256k1 private key"),
        (b"ff" * 32, "not a valid secp256k1 private key"),
    ],
)
def test_bad_key_files_are_refused_by_name(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "validator.key"
    path.write_bytes(content)
    with pytest.raises(ValidatorKeyError, match=message) as raised:
        load_validator_key(path)
    assert str(path) in str(raised.value)


def test_a_missing_key_file_or_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidatorKeyError, match="no such validator key file"):
        load_validator_key(tmp_path / "missing.key")
    with pytest.raises(ValidatorKeyError, match="is a directory"):
        load_validator_key(tmp_path)


def test_write_makes_a_new_private_key_file(tmp_path: Path) -> None:
    path = tmp_path / "validator.key"
    address = write_validator_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_validator_key(path)
    assert address_of_key(key) == address and len(address) == 20
    assert path.read_text().startswith("0x") and path.read_text().endswith("\n")
    other = write_validator_key(tmp_path / "other.key")
    assert other != address  # random, not derived from anything fixed


def test_write_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "validator.key"
    path.write_text("keep me")
    with pytest.raises(ValidatorKeyError, match="already exists"):
        write_validator_key(path)
    assert path.read_text() == "keep me"
    with pytest.raises(ValidatorKeyError, match="cannot create"):
        write_validator_key(tmp_path / "no" / "such" / "dir.key")


def test_address_of_a_dev_key() -> None:
    assert address_of_key(ALICE.private_key) == ALICE.address


def test_poa_genesis_parses_with_the_engine_settings() -> None:
    bob = dev_account(1)
    genesis = parse_genesis(
        poa_genesis([ALICE.address, bob.address], accounts=[bob.address], period=5, epoch=100)
    )
    assert genesis.consensus.engine == "poa"
    assert genesis.consensus.validators == (ALICE.address, bob.address)
    assert dict(genesis.consensus.options) == {"period": "5", "epoch": "100"}
    assert genesis.plugins == ("consensus_poa",)
    assert genesis.alloc[bob.address].balance == 10_000 * 10**18
    with pytest.raises(ValueError, match="at least one authority"):
        poa_genesis([])
    with pytest.raises(ValueError, match="20-byte"):
        poa_genesis([b"\x01" * 19])
