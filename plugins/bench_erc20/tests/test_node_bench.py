"""``supervm bench node``: the workload's plan, its checks, the split, and a small real run.

Speed is not asserted (shared machines are noisy): the benchmark prints the rates measured side
by side in one run. The slow test runs both nodes for real and checks the JSON line's shape and
that the run verified itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st
from supervm.chain.transactions import decode_transaction
from supervm.cli.main import cli
from supervm_bench_erc20.engines import SUPPLY
from supervm_bench_erc20.node_bench import (
    CHAIN_ID,
    ESTIMATE,
    SENDER_TOKENS,
    SPLIT_METRICS,
    BenchNodeError,
    Workload,
    batches,
    cpu_seconds,
    decode_costs,
    expected_balances,
    find_hardhat,
    parse_samples,
    sender_keys,
    signed_raw,
    split_of,
    verify,
)

workloads = st.builds(
    Workload,
    transactions=st.integers(1, 400),
    senders=st.integers(8, 40),
    batch=st.integers(1, 4),
    connections=st.integers(1, 2),
)


@given(workloads)
def test_the_plan_gives_each_sender_consecutive_nonces_from_zero(workload: Workload) -> None:
    nonces: dict[int, list[int]] = {}
    for sender, nonce, recipient in workload.plan():
        assert recipient != sender and 0 <= recipient < workload.senders
        nonces.setdefault(sender, []).append(nonce)
    assert sum(len(n) for n in nonces.values()) == workload.transactions
    for got in nonces.values():
        assert got == list(range(len(got)))


@given(workloads)
def test_balances_conserve_the_supply(workload: Workload) -> None:
    balances = expected_balances(workload)
    assert len(balances) == workload.senders + 1
    assert sum(balances) == SUPPLY
    sent = Counter(s for s, _, _ in workload.plan())
    received = Counter(r for _, _, r in workload.plan())
    for i in range(workload.senders):
        assert balances[i] == SENDER_TOKENS - sent[i] + received[i]


@given(workloads)
def test_a_batch_holds_one_transaction_per_sender_and_lanes_split_the_senders(
    workload: Workload,
) -> None:
    plan = workload.plan()
    raws = [f"0x{s:04x}{n:04x}" for s, n, _ in plan]  # stands for the signed transaction
    lanes = batches(workload, raws)
    assert len(lanes) == workload.connections
    owner: dict[int, int] = {}
    seen = []
    for lane, bodies in enumerate(lanes):
        for body in bodies:
            calls = orjson.loads(body)
            assert 1 <= len(calls) <= workload.batch
            assert [c["id"] for c in calls] == list(range(len(calls)))
            senders = [int(c["params"][0][2:6], 16) for c in calls]
            assert len(set(senders)) == len(senders)
            for call, sender in zip(calls, senders, strict=True):
                assert call["method"] == "eth_sendRawTransaction"
                assert owner.setdefault(sender, lane) == lane
                seen.append(call["params"][0])
    assert sorted(seen) == sorted(raws)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transactions": 0}, "--transactions"),
        ({"senders": 1, "batch": 1, "connections": 1}, "--senders"),
        ({"batch": 0}, "--batch must"),
        ({"connections": 0}, "--connections must"),
        ({"senders": 200, "batch": 100, "connections": 3}, "one transaction per sender"),
    ],
)
def test_a_bad_workload_is_refused_with_its_reason(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(BenchNodeError, match=message):
        Workload(**kwargs)


def test_the_cli_names_a_bad_option_without_a_traceback() -> None:
    result = CliRunner().invoke(
        cli, ["bench", "node", "--senders", "10", "--batch", "10", "--connections", "2"]
    )
    assert result.exit_code != 0
    assert "must not exceed --senders (10)" in result.output
    assert "Traceback" not in result.output


def test_hardhat_other_than_2_is_refused(tmp_path: Path) -> None:
    package = tmp_path / "node_modules" / "hardhat"
    (package / "internal" / "cli").mkdir(parents=True)
    (package / "internal" / "cli" / "cli.js").write_text("")
    (package / "package.json").write_text('{"version": "3.0.1"}')
    with pytest.raises(BenchNodeError, match=r"Hardhat 3\.0\.1; the benchmark needs Hardhat 2"):
        find_hardhat([tmp_path])


_METRICS = """\
# HELP rpc_duration_eth_sendRawTransaction_success Seconds.
# TYPE rpc_duration_eth_sendRawTransaction_success histogram
rpc_duration_eth_sendRawTransaction_success_bucket{le="0.1"} 3.0
rpc_duration_eth_sendRawTransaction_success_bucket{le="+Inf"} 4.0
rpc_duration_eth_sendRawTransaction_success_count 4.0
rpc_duration_eth_sendRawTransaction_success_sum %(rpc)s
# HELP chain_block_execution_seconds Seconds.
# TYPE chain_block_execution_seconds histogram
chain_block_execution_seconds_bucket{le="+Inf"} 2.0
chain_block_execution_seconds_count 2.0
chain_block_execution_seconds_sum %(execution)s
# HELP rpc_sender_recovery_seconds Seconds recovering senders.
# TYPE rpc_sender_recovery_seconds counter
rpc_sender_recovery_seconds_total{method="a"} %(recover)s
rpc_sender_recovery_seconds_total{method="b"} 1.0
"""


def test_the_split_is_the_difference_of_two_scrapes() -> None:
    before = parse_samples(_METRICS % {"rpc": "1.5", "execution": "0.25", "recover": "0.5"})
    after = parse_samples(_METRICS % {"rpc": "3.5", "execution": "1.25", "recover": "1.0"})
    split = split_of(before, after, wall=4.0, estimates={"decode": 0.2, "recover": 9.0})
    assert split.stages["rpc"] == pytest.approx(2.0)
    assert split.stages["execution"] == pytest.approx(1.0)
    assert split.share("rpc") == pytest.approx(0.5)
    # A served counter wins over the estimate; labels are summed.
    assert split.stages["recover"] == pytest.approx(0.5)
    assert split.sources["recover"] == "rpc_sender_recovery_seconds_total"
    assert split.stages["decode"] == 0.2 and split.sources["decode"] == ESTIMATE
    assert split.stages["commit"] is None and split.share("commit") is None
    assert set(split.missing) == {"decode", "seal", "commit"}
    assert split.missing["commit"] == SPLIT_METRICS["commit"]


def test_decode_costs_time_the_nodes_decoding_of_these_transactions() -> None:
    keys = sender_keys(3)
    raws = [signed_raw(k, n, b"\x11" * 20, b"\x01\x02", 50_000) for n, k in enumerate(keys)]
    assert all(decode_transaction(bytes.fromhex(r[2:]), chain_id=CHAIN_ID) for r in raws)
    costs = decode_costs(raws, rounds=2)
    assert set(costs) == {"decode", "recover"}
    assert costs["recover"] > 0 and costs["decode"] >= 0


def test_cpu_seconds_of_this_process_grow_with_work() -> None:
    pid = os.getpid()
    before = cpu_seconds(pid)
    assert before is not None and before > 0
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    after = cpu_seconds(pid)
    assert after is not None and after >= before
    assert cpu_seconds(2**22 + 1) is None  # no such process


class _FakeNode:
    """Answers :func:`verify`'s receipts and ``balanceOf`` calls from fixed tables."""

    def __init__(self, receipts: dict[str, Any], balances: dict[str, int]) -> None:
        self.receipts = receipts
        self.balances = balances

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        out: list[Any] = []
        for method, params in calls:
            if method == "eth_getTransactionReceipt":
                out.append(self.receipts.get(params[0]))
            else:
                holder = "0x" + params[0]["data"][-40:]
                out.append("0x" + encode(["uint256"], [self.balances[holder]]).hex())
        return out


def _verify_fake(receipts: dict[str, Any], balances: list[int]) -> None:
    workload = Workload(transactions=7, senders=3, batch=1, connections=1)
    from supervm.chain.dev_accounts import dev_account
    from supervm.node.keyfile import address_of

    addresses = [address_of(k) for k in sender_keys(3)]
    holders = ["0x" + a.hex() for a in [*addresses, dev_account(0).address]]
    node = _FakeNode(receipts, dict(zip(holders, balances, strict=True)))
    hashes = [f"0x{i:064x}" for i in range(7)]
    asyncio.run(verify(node, workload, addresses, b"\x22" * 20, hashes, first_block=5))


def _good_receipts() -> dict[str, Any]:
    return {f"0x{i:064x}": {"status": "0x1", "blockNumber": "0x6"} for i in range(7)}


def test_verify_accepts_a_correct_run_and_refuses_a_wrong_one() -> None:
    workload = Workload(transactions=7, senders=3, batch=1, connections=1)
    good = expected_balances(workload)
    _verify_fake(_good_receipts(), good)
    with pytest.raises(BenchNodeError, match="wrong token balance"):
        _verify_fake(_good_receipts(), [good[0] + 1, good[1] - 1, *good[2:]])
    failed = _good_receipts()
    failed["0x" + "0" * 63 + "3"]["status"] = "0x0"
    with pytest.raises(BenchNodeError, match="1 transfers failed or are missing"):
        _verify_fake(failed, good)
    early = _good_receipts()
    early["0x" + "0" * 64]["blockNumber"] = "0x5"  # a block of the setup, not the timed phase
    with pytest.raises(BenchNodeError, match="failed or are missing"):
        _verify_fake(early, good)


@pytest.mark.slow
def test_a_small_run_of_both_nodes_prints_one_verified_json_line() -> None:
    result = CliRunner().invoke(
        cli,
        ["bench", "node", "--transactions", "200", "--senders", "20", "--batch", "10", "--json"],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and result.stderr == ""
    data = json.loads(lines[0])
    stages = [f"{s}_{k}" for s in SPLIT_METRICS for k in ("s", "share")]
    assert set(data) == {
        "supervm_tps", "hardhat_tps", "ratio", "transactions", "senders", "batch",
        "supervm_blocks", "supervm_s", "estimated", "supervm_cpu_us_per_tx",
        "hardhat_cpu_us_per_tx", "cpu_ratio", *stages,
        "supervm_evm_tps", "supervm_evm_s", "supervm_evm_blocks", "evm_ratio",
        "supervm_evm_cpu_us_per_tx",
    }  # fmt: skip
    assert data["supervm_evm_tps"] > 0
    assert data["evm_ratio"] == pytest.approx(
        data["supervm_evm_tps"] / data["supervm_tps"], rel=0.01
    )
    assert data["transactions"] == 200 and data["senders"] == 20
    assert data["supervm_tps"] > 0 and data["hardhat_tps"] > 0
    assert data["ratio"] == pytest.approx(data["supervm_tps"] / data["hardhat_tps"], rel=0.01)
    assert data["supervm_tps"] == pytest.approx(200 / data["supervm_s"], rel=0.01)
    assert 1 <= data["supervm_blocks"] <= 200
    for stage in ("rpc", "execution", "commit"):
        assert data[f"{stage}_s"] > 0 and data[f"{stage}_share"] > 0
    for stage in ("decode", "recover"):
        assert data[f"{stage}_s"] is not None
    assert data["supervm_cpu_us_per_tx"] > 0 and data["hardhat_cpu_us_per_tx"] > 0
    assert data["cpu_ratio"] == pytest.approx(
        data["hardhat_cpu_us_per_tx"] / data["supervm_cpu_us_per_tx"], rel=0.02
    )
