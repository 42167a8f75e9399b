"""``supervm evm blocktest``: the runner itself, and a fixed eighth of the Cancun conformance tests.

The subset is every eighth file of ``BlockchainTests/GeneralStateTests`` in sorted path order (a
rule, not a choice of tests), run with the pyrevm engine; the full suite for both engines is in
``test_blocktest_full.py`` (CI only).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from supervm import Kernel
from supervm.cli.main import cli
from supervm_evm_revm_bridge import blocktest

CONFORMANCE = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "conformance"
    / "ethereum-tests"
    / "BlockchainTests"
)
GENERAL = CONFORMANCE / "GeneralStateTests"
EXAMPLE = GENERAL / "stExample" / "add11.json"
#: Every ``STRIDE``-th file of the sorted GeneralStateTests is in the fast subset.
STRIDE = 8

#: Tests of the subset that fail for a reason outside this plugin, with the reason. Strict
#: xfail: when the cause is fixed the test passes and pytest reports it, so this list shrinks.
KNOWN_FAILURES: dict[str, str] = {}

needs_conformance = pytest.mark.skipif(
    not GENERAL.is_dir(), reason="the shared conformance data is not next to the repository"
)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as kernel:
        yield kernel


def subset() -> list[Path]:
    return blocktest.test_files([GENERAL])[::STRIDE] if GENERAL.is_dir() else []


def _one(tmp_path: Path, change: Any) -> Path:
    """A copy of the example test with ``change(test)`` applied."""
    tests = json.loads(EXAMPLE.read_text())
    name, test = next(iter(tests.items()))
    test = copy.deepcopy(test)
    change(test)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps({name: test}))
    return path


@needs_conformance
def test_the_example_passes_and_json_has_the_documented_shape() -> None:
    result = CliRunner().invoke(cli, ["evm", "blocktest", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data == {"passed": 1, "failed": 0, "failures": []}


@needs_conformance
def test_a_wrong_post_state_is_named(tmp_path: Path) -> None:
    def change(test: dict[str, Any]) -> None:
        account = test["postState"]["0x095e7baea6a6c7c4c2dfeb977efac326af552d87"]
        account["storage"]["0x00"] = "0x03"

    result = CliRunner().invoke(cli, ["evm", "blocktest", str(_one(tmp_path, change)), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["passed"] == 0 and data["failed"] == 1
    (failure,) = data["failures"]
    assert failure["field"] == "postState 0x095e7baea6a6c7c4c2dfeb977efac326af552d87 storage[0x0]"
    assert failure["expected"] == "0x3" and failure["got"] == "0x2"


@needs_conformance
def test_a_valid_block_marked_invalid_fails(tmp_path: Path) -> None:
    def change(test: dict[str, Any]) -> None:
        test["blocks"][0]["expectException"] = "TransactionException.INTRINSIC_GAS_TOO_LOW"

    result = CliRunner().invoke(cli, ["evm", "blocktest", str(_one(tmp_path, change))])
    assert result.exit_code == 1
    assert "block 1: expected refused" in result.output
    assert "0 passed, 1 failed" in result.output


@needs_conformance
def test_an_extra_account_and_a_wrong_genesis_fail(tmp_path: Path) -> None:
    def drop(test: dict[str, Any]) -> None:
        del test["postState"]["0x095e7baea6a6c7c4c2dfeb977efac326af552d87"]

    def genesis(test: dict[str, Any]) -> None:
        test["genesisBlockHeader"]["excessBlobGas"] = "0x00"

    for change, field in ((drop, "postState 0x095e7baea6a6c7c4c2dfeb977efac326af552d87"),
                          (genesis, "genesis hash")):  # fmt: skip
        path = _one(tmp_path, change)
        result = CliRunner().invoke(cli, ["evm", "blocktest", str(path), "--json"])
        (failure,) = json.loads(result.output.strip().splitlines()[-1])["failures"]
        assert failure["field"] == field


def test_missing_paths_are_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evm", "blocktest", str(tmp_path / "nope.json")])
    assert result.exit_code != 0
    assert "no such file or directory" in result.output
    assert "Traceback" not in result.output


@needs_conformance
@pytest.mark.parametrize("path", subset(), ids=lambda p: str(p.relative_to(GENERAL)))
def test_conformance_subset(kernel: Kernel, path: Path) -> None:
    blocktest.select_engine(kernel, "pyrevm")
    failures = []
    for name, test in blocktest.iter_tests([path]):
        if test is None:
            continue
        failure = blocktest.run_test(kernel, name, test)
        if failure is not None:
            failures.append(failure)
    known = [f for f in failures if f.name in KNOWN_FAILURES]
    if known and len(known) == len(failures):
        pytest.xfail("; ".join(f"{f.name}: {KNOWN_FAILURES[f.name]}" for f in known))
    assert failures == []
