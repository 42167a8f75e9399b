"""Ethereum's own vectors: every BlockchainTest's genesis state root, built from its ``pre``
accounts (balance, nonce, code, storage) with a fresh StateRoot, must equal the genesis
header's ``stateRoot``. All 1,760 Cancun tests of the shared subset take well under a second.

The suite lives outside the repository, in ``shared/conformance`` beside it (see its
README.md); without it these tests are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from supervm.state import Account, StateRoot, keccak256

SUITE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "conformance"
    / "ethereum-tests"
    / "BlockchainTests"
)
# One test per directory of test files (groups sit at two depths: Cancun/ has subgroups).
GROUPS = sorted({p.parent for p in SUITE.rglob("*.json")}) if SUITE.is_dir() else []


def genesis_root(pre: dict[str, dict[str, object]]) -> bytes:
    accounts: dict[bytes, Account | None] = {}
    storage: dict[bytes, dict[bytes, bytes | None]] = {}
    for address, fields in pre.items():
        addr = bytes.fromhex(address[2:])
        code = bytes.fromhex(str(fields["code"])[2:])
        accounts[addr] = Account(
            int(str(fields["nonce"]), 16), int(str(fields["balance"]), 16), keccak256(code)
        )
        slots = fields["storage"]
        assert isinstance(slots, dict)
        if slots:
            storage[addr] = {
                int(k, 16).to_bytes(32, "big"): int(v, 16).to_bytes(32, "big")
                for k, v in slots.items()
            }
    return StateRoot().apply(accounts, storage)


@pytest.mark.skipif(not GROUPS, reason=f"the Ethereum conformance suite is not at {SUITE}")
@pytest.mark.parametrize("group", GROUPS, ids=lambda p: str(p.relative_to(SUITE)))
def test_genesis_state_roots(group: Path) -> None:
    checked = 0
    wrong = []
    for path in sorted(group.glob("*.json")):
        with path.open() as f:
            tests = json.load(f)
        for name, test in tests.items():
            want = bytes.fromhex(test["genesisBlockHeader"]["stateRoot"][2:])
            if genesis_root(test["pre"]) != want:
                wrong.append(f"{path.name}::{name}")
            checked += 1
    assert checked > 0
    assert not wrong, f"{len(wrong)} of {checked} genesis state roots differ: {wrong[:10]}"


def test_the_suite_is_complete_when_present() -> None:
    if not GROUPS:
        pytest.skip(f"the Ethereum conformance suite is not at {SUITE}")
    # The shared subset has 1,078 files (README.md); a smaller count means a broken copy.
    assert sum(1 for _ in SUITE.rglob("*.json")) == 1078
