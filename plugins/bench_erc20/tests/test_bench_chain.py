"""``supervm bench chain`` builds and imports a block of signed transfers and agrees with itself.

Speed is not asserted (shared machines are noisy): the benchmark prints the rates measured side
by side in one run.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from supervm.cli.main import cli
from supervm.crypto import keccak256
from supervm_bench_erc20.chain_bench import recover_senders, run


@pytest.mark.slow
def test_a_small_run_imports_the_built_chain() -> None:
    lines: list[str] = []
    report = run(n=30, storage="memory", progress=lines.append)
    assert report.equal
    assert min(report.build_tps, report.import_tps, report.bare_tps) > 0
    assert report.ratio == pytest.approx(report.build_tps / report.bare_tps)
    for step in ("execution", "receipts", "state_root", "roots", "commit", "total"):
        assert report.build[step] >= 0
    for step in ("decode", "recover", "execution", "state_root", "commit"):
        assert report.import_[step] >= 0
    assert any("block 3: building 30 transfers" in line for line in lines)


@pytest.mark.slow
def test_cli_json_is_one_line_with_the_documented_keys() -> None:
    result = CliRunner().invoke(
        cli, ["bench", "chain", "--transfers", "20", "--storage", "lmdb", "--json"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and result.stderr == ""
    data = json.loads(lines[0])
    assert set(data) == {
        "build_tps", "import_tps", "bare_tps", "ratio", "root_ms", "commit_ms", "engine", "equal",
    }  # fmt: skip
    assert data["equal"] is True and data["engine"] == "python"
    assert data["ratio"] == pytest.approx(data["build_tps"] / data["bare_tps"], rel=0.01)


def test_sender_recovery_on_threads_gives_the_senders() -> None:
    from supervm.chain.dev_accounts import dev_accounts
    from supervm.chain.transactions import (
        UnsignedTransaction,
        decode_transaction,
        encode_transaction,
        sign_transaction,
    )

    accounts = dev_accounts(3)
    raws = []
    for i, account in enumerate(accounts * 3):
        unsigned = UnsignedTransaction(
            type=2, chain_id=1, nonce=i, max_priority_fee_per_gas=1, max_fee_per_gas=2,
            gas=21_000, to=keccak256(b"to")[:20], value=i,
        )  # fmt: skip
        raws.append(encode_transaction(sign_transaction(unsigned, account.private_key)))
    txs = [decode_transaction(raw) for raw in raws]
    expected = [tx.sender for tx in txs]
    fresh = [decode_transaction(raw) for raw in raws]
    for tx in fresh:  # forget the sender decoding recovered, so the threads recover it
        tx.__dict__.pop("sender", None)
    recover_senders(fresh, threads=2)
    assert [tx.__dict__["sender"] for tx in fresh] == expected
