"""``supervm key new``: a validator key file, its address printed, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from supervm.cli.key import checksum_address
from supervm.cli.main import main
from supervm.node.keyfile import address_of, load_validator_key


def test_key_new_writes_a_key_file_and_prints_its_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v.key"
    main(["key", "new", "--out", str(out)])
    printed = capsys.readouterr().out.strip()
    key = load_validator_key(out)  # the format --validator-key reads
    assert printed == checksum_address(address_of(key))
    assert out.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SystemExit) as exited:
        main(["key", "new", "--out", str(out)])
    assert exited.value.code == 1
    assert "already exists; a key file is never overwritten" in capsys.readouterr().err
    assert load_validator_key(out) == key
    other = tmp_path / "w.key"
    main(["key", "new", "--out", str(other), "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"address": checksum_address(address_of(load_validator_key(other))),
                     "file": str(other)}  # fmt: skip
    assert load_validator_key(other) != key


def test_checksum_address_is_eip_55() -> None:
    # EIP-55's own examples.
    for text in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                 "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"):  # fmt: skip
        assert checksum_address(bytes.fromhex(text[2:])) == text


def test_key_new_in_a_missing_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["key", "new", "--out", str(tmp_path / "no" / "such" / "k")])
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
