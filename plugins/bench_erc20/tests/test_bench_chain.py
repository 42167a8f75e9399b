"""``supervm bench chain`` builds and imports a block of signed transfers and agrees with itself.

Speed is not asserted (shared machines are noisy): the benchmark prints the rates measured side
by side in one run.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from supervm.cli.main import cli
from supervm_bench_erc20.chain_bench import run


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
