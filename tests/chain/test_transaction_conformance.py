"""Ethereum's official TransactionTests under the Cancun rules.

Every test file in ``<repo>/../shared/conformance/ethereum-tests/TransactionTests`` becomes one
case. A valid transaction must decode to the expected sender and hash, with the expected
intrinsic gas where the file gives one, and re-encode to the same bytes; an invalid one must
raise :class:`TransactionError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from supervm.chain import TransactionError, decode_transaction, encode_transaction, intrinsic_gas

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO.parent / "shared" / "conformance" / "ethereum-tests" / "TransactionTests"

#: The suite's transactions are signed for mainnet.
CHAIN_ID = 1
FORK = "Cancun"
#: Forks older than Cancun, newest first (see _expected).
OLDER_FORKS = ("Shanghai", "Paris", "London", "Berlin", "Istanbul")


def _expected(name: str, results: dict[str, dict[str, str]]) -> dict[str, str]:
    """The Cancun result, or what it must be for a test filled before Cancun existed.

    Some of the suite's files (malformed RLP and field formats) were last filled before Cancun
    and list only older forks. Where the newest of them rejects the transaction, Cancun does
    too: no later fork relaxed a format rule, and the only new type, blob transactions, is
    rejected here. A transaction valid in an older fork proves nothing about Cancun.
    """
    if FORK in results:
        return results[FORK]
    for fork in OLDER_FORKS:
        if fork in results:
            if "exception" not in results[fork]:
                pytest.skip(f"{name}: no {FORK} result, and valid in {fork}")
            return results[fork]
    pytest.skip(f"{name}: no result for {FORK} or a recent fork")


def _cases() -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"{SUITE} is missing"))]
    cases = []
    for path in sorted(SUITE.rglob("*.json")):
        for name, test in json.loads(path.read_text()).items():
            case_id = f"{path.parent.name}/{name}"
            cases.append(pytest.param(case_id, test, id=case_id))
    return cases


@pytest.mark.parametrize(("case_id", "test"), _cases())
def test_transaction(case_id: str, test: dict[str, Any]) -> None:
    expected = _expected(case_id, test["result"])
    raw = bytes.fromhex(test["txbytes"].removeprefix("0x"))
    if "exception" in expected:
        with pytest.raises(TransactionError):
            decode_transaction(raw, chain_id=CHAIN_ID)
        return
    tx = decode_transaction(raw, chain_id=CHAIN_ID)
    assert "0x" + tx.sender.hex() == expected["sender"]
    assert "0x" + tx.hash.hex() == expected["hash"]
    if "intrinsicGas" in expected:
        assert intrinsic_gas(tx) == int(expected["intrinsicGas"], 16)
    assert encode_transaction(tx) == raw
    # decode_transaction takes the hash and signing digest from the input bytes; a copy
    # without those caches derives both from the fields.
    fresh = attrs.evolve(tx)
    assert (fresh.hash, fresh.sender) == (tx.hash, tx.sender)
