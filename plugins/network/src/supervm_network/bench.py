"""``supervm bench network``: what a 4-validator loopback network finalizes, against one node.

One run:

1. the single-node figure: ``supervm bench node``'s SuperVM side (signed WASM ERC20 transfers
   over JSON-RPC batches against ``supervm node --dev``), through its own code
   (``supervm_bench_erc20.node_bench``);
2. a devnet of ``validators`` nodes (``supervm devnet up``'s code, JSON logs) on loopback; the
   same workload is sent to node 0, while a watcher polls node 0's head and ``finalized``
   block (keep-alive JSON-RPC, every ``poll`` seconds).

Figures: the network's inclusion rate (as ``bench node`` counts it, at node 0); its
**finalized** rate, ``transactions / (first submission to the moment node 0 reports final the
block holding the last transfer)``; and **block propagation**, per block of the timed phase,
from its ``block_sealed`` log record on the sealer to the last ``blocks_imported`` record of
it on the other nodes (the records' times, to the millisecond), median and 95th percentile.
Blocks a node took in a sync batch rather than from gossip are left out of that figure and
counted apart.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import click
from supervm.crypto import keccak256

from . import devnet


@attrs.frozen
class NetworkReport:
    """What one ``bench network`` run measured."""

    validators: int
    transactions: int
    single_node_tps: float | None
    included_tps: float
    finalized_tps: float | None
    finalize_lag_seconds: float | None
    propagation_median_ms: float | None
    propagation_p95_ms: float | None
    blocks_measured: int
    blocks_synced_in_batches: int
    empty_block_propagation_median_ms: float | None
    poll_ms: float

    def as_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return attrs.asdict(self)


class _Poller:
    """JSON-RPC over one keep-alive connection (the watcher's, polling often)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        try:
            self._connection.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self._connection.getresponse().read()).get("result")
        except (OSError, http.client.HTTPException, ValueError):
            self._connection.close()
            return None


class Watcher(threading.Thread):
    """Polls node 0's head and final block, recording when each was first seen."""

    def __init__(self, url: str, poll: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.poll = poll
        #: block number -> first seen as the head (perf_counter).
        self.seen: dict[int, float] = {}
        #: (perf_counter, finalized number), as it moves.
        self.finalized: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        poller = _Poller(self.url)
        while not self._halt.is_set():
            block = poller.call("eth_getBlockByNumber", "latest", False)
            if isinstance(block, dict):
                self.seen.setdefault(int(block["number"], 16), time.perf_counter())
            final = poller.call("eth_getBlockByNumber", "finalized", False)
            if isinstance(final, dict):
                number = int(final["number"], 16)
                if not self.finalized or self.finalized[-1][1] != number:
                    self.finalized.append((time.perf_counter(), number))
            self._halt.wait(self.poll)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def first_seen(self, number: int) -> float | None:
        """When node 0 first showed block ``number`` (or a later one) as its head."""
        return next((t for n, t in sorted(self.seen.items()) if n >= number), None)

    def final_at(self, number: int) -> float | None:
        return next((t for t, n in self.finalized if n >= number), None)


def propagation(
    logs: Sequence[Path], first: int, *, empty: bool = False
) -> tuple[list[float], int]:
    """Seconds from sealing to the last other node's import, per block numbered ``first`` or
    later that every other node imported from gossip (``empty``: per empty block instead); and
    how many blocks some node took in a sync batch instead."""
    sealed: dict[str, tuple[float, int]] = {}
    imported: dict[str, dict[int, float]] = {}
    batched: set[int] = set()
    for index, path in enumerate(logs):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            event = record.get("event") if isinstance(record, dict) else None
            if event == "block_sealed" and record["number"] >= first:
                if (record["transactions"] == 0) == empty:
                    sealed[record["hash"]] = (record["time"], index)
            elif event == "blocks_imported" and record["number"] >= first:
                if record["count"] == 1:
                    imported.setdefault(record["hash"], {})[index] = record["time"]
                else:
                    batched.update(
                        range(record["number"] - record["count"] + 1, record["number"] + 1)
                    )
    delays = []
    for block_hash, (at, sealer) in sealed.items():
        arrivals = imported.get(block_hash, {})
        if len(arrivals) == len(logs) - 1 and sealer not in arrivals:
            delays.append(max(arrivals.values()) - at)
    return delays, len(batched)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(
    transactions: int,
    senders: int,
    batch: int,
    connections: int,
    *,
    validators: int = 4,
    single: bool = True,
    poll: float = 0.02,
    progress: Any = lambda _m: None,
) -> NetworkReport:
    """Measure; see the module docstring."""
    from supervm.execution.wasm_binary import with_end_marker
    from supervm_bench_erc20 import node_bench
    from supervm_bench_erc20.engines import constructor_args

    workload = node_bench.Workload(transactions, senders, batch, connections)
    single_tps = None
    if single:
        progress("single node: supervm bench node's SuperVM side")
        report = node_bench.run(workload, hardhat=False, evm=False, progress=progress)
        single_tps = report.supervm.tps
    with tempfile.TemporaryDirectory(prefix="supervm-bench-network-") as name:
        tmp = Path(name)
        wasm, _solidity = node_bench._compile(tmp, progress)
        progress(f"starting a devnet of {validators} validators")
        net = devnet.up(tmp / "devnet", validators, timeout=180, log_json=True)
        watcher = Watcher(net.nodes[0].rpc, poll)
        try:
            watcher.start()
            first = net.nodes[0]
            served = node_bench.Served(first.rpc, first.pid)
            deploy = with_end_marker(wasm.bytecode) + constructor_args()
            outcome = asyncio.run(node_bench._drive("network", served, workload, deploy, progress))
            hashes = ["0x" + keccak256(bytes.fromhex(r[2:])).hex() for r in outcome.raws]
            poller = _Poller(first.rpc)
            numbers = []
            for tx_hash in hashes[-50:]:
                receipt = poller.call("eth_getTransactionReceipt", tx_hash)
                numbers.append(int(receipt["blockNumber"], 16))
            last = max(numbers)
            receipt = poller.call("eth_getTransactionReceipt", hashes[0])
            first_block = int(receipt["blockNumber"], 16)
            progress(f"waiting for block {last} to be final")
            deadline = time.monotonic() + 60
            while watcher.final_at(last) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3 * poll)
            logs = [Path(n.log) for n in net.nodes]
            delays, batched = propagation(logs, first_block)
            idle, _ = propagation(logs, 1, empty=True)
        finally:
            watcher.stop()
            devnet.down(tmp / "devnet")
    included = outcome.result
    seen, final = watcher.first_seen(last), watcher.final_at(last)
    lag = None if seen is None or final is None else max(0.0, final - seen)
    finalized_tps = None if lag is None else transactions / (included.seconds + lag)
    return NetworkReport(
        validators=validators,
        transactions=transactions,
        single_node_tps=single_tps,
        included_tps=included.tps,
        finalized_tps=finalized_tps,
        finalize_lag_seconds=lag,
        propagation_median_ms=statistics.median(delays) * 1000 if delays else None,
        propagation_p95_ms=_percentile(delays, 0.95) * 1000 if delays else None,
        blocks_measured=len(delays),
        blocks_synced_in_batches=batched,
        empty_block_propagation_median_ms=statistics.median(idle) * 1000 if idle else None,
        poll_ms=poll * 1000,
    )


def _fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


@click.command("network")
@click.option("--transactions", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--senders", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--connections", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--validators", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--skip-single", is_flag=True, help="Leave out the single-node figure.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON line.")
def bench_network_command(
    transactions: int,
    senders: int,
    batch: int,
    connections: int,
    validators: int,
    skip_single: bool,
    as_json: bool,
) -> None:
    """ERC20 transfers finalized by a loopback network of validators, block propagation, and
    the single-node figure of `bench node`, in one run."""
    try:  # the workload, the client and the single-node figure are bench node's
        from supervm_bench_erc20.node_bench import BenchNodeError
    except ImportError:
        raise click.ClickException(
            "supervm bench network runs bench node's workload: it needs the bench_erc20 "
            "plugin (the supervm-bench-erc20 distribution)"
        ) from None

    progress = (lambda _m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True))
    try:
        report = run(
            transactions, senders, batch, connections, validators=validators,
            single=not skip_single, progress=progress,
        )  # fmt: skip
    except (BenchNodeError, devnet.DevnetError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(f"{transactions:,} ERC20 transfers, {validators} validators on loopback")
    click.echo(f"  single node (bench node):   {_fmt(report.single_node_tps, ' tx/s')}")
    click.echo(f"  network, included (node 0): {_fmt(report.included_tps, ' tx/s')}")
    click.echo(
        f"  network, finalized:         {_fmt(report.finalized_tps, ' tx/s')} "
        f"(final {_fmt(report.finalize_lag_seconds, ' s')} after inclusion)"
    )
    click.echo(
        f"  block propagation:          median {_fmt(report.propagation_median_ms, ' ms')}, "
        f"p95 {_fmt(report.propagation_p95_ms, ' ms')} over {report.blocks_measured} blocks "
        f"sealing to import on every node ({report.blocks_synced_in_batches} taken by sync "
        "instead)"
    )
    click.echo(
        f"  empty blocks' propagation:  median "
        f"{_fmt(report.empty_block_propagation_median_ms, ' ms')}"
    )
