"""``supervm bench erc20`` runs the same transfers on three engines and agrees on the result.

Speed is not asserted here (shared machines are noisy); the benchmark itself prints ratios
measured side by side.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from supervm.cli.main import cli
from supervm_bench_erc20.bench import accounts, run, transfers
from supervm_bench_erc20.engines import TRANSFER


def test_transfers_are_distinct_pairs_with_shared_calldata() -> None:
    addresses = accounts(5)
    batch = transfers(addresses, 50)
    assert len({a for a in addresses}) == 5
    for t in batch:
        assert t.calldata[:4] == TRANSFER
        recipient = t.calldata[16:36]
        assert recipient in addresses and recipient != addresses[t.sender]
    assert transfers(addresses, 50) == batch  # seeded: every engine gets the same list


@pytest.mark.slow
def test_small_run_agrees_across_engines() -> None:
    report = run(n_transfers=300, n_accounts=20, n_pyevm=30, rounds=1)
    assert report.equal
    assert min(report.wasm_tps, report.pyrevm_tps, report.pyevm_tps) > 0
    data = report.as_json()
    base = {"wasm_tps", "pyrevm_tps", "pyevm_tps", "wasm_vs_pyrevm", "wasm_vs_pyevm"}
    # The native rows come with the wasm_native plugin, the EVM row with evm_revm_bridge.
    native = {"wasm_native_tps", "wasm_native_vs_pyrevm"}
    native |= {"wasm_native_block_tps", "wasm_native_block_vs_pyrevm"}
    assert set(data) == base | native | {"evm_tps", "evm_vs_pyrevm"}
    assert data["wasm_native_vs_pyrevm"] == pytest.approx(
        data["wasm_native_tps"] / data["pyrevm_tps"], rel=0.01
    )
    assert data["evm_vs_pyrevm"] == pytest.approx(data["evm_tps"] / data["pyrevm_tps"], rel=0.01)


@pytest.mark.slow
def test_cli_json_is_one_line() -> None:
    result = CliRunner().invoke(
        cli,
        ["bench", "erc20", "--transfers", "100", "--accounts", "10", "--pyevm-transfers", "10",
         "--rounds", "1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["wasm_vs_pyrevm"] == pytest.approx(data["wasm_tps"] / data["pyrevm_tps"], rel=0.01)


def test_cli_rejects_bad_counts() -> None:
    result = CliRunner().invoke(cli, ["bench", "erc20", "--accounts", "1"])
    assert result.exit_code != 0
    assert "at least 2" in result.output
