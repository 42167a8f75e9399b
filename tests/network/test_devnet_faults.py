"""Validators on loopback, started with ``supervm devnet up``'s code, under faults.

After each scenario every node must agree on the head and the state root, no block a node
reported final may have been reverted, and every transaction whose receipt a node served must
be in the chain: still in its block if that block was final, included again if a reorg took
its block off (the healed validator's in-turn block can outweigh the one sealed in its place).

The fast test (``make test``) runs four validators with transactions sent to one, a fifth node
that syncs from genesis, and a ``kill -9`` and restart; the long ones (``make test-ci``) add a
partition of one validator and its healing and a longer run.

A partition on loopback is a stopped process (SIGSTOP: its sockets stay open and silent, as
behind a dropped link) resumed later; ``ip netns`` would need privileges these tests do not
assume.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.transactions import UnsignedTransaction, encode_transaction, sign_transaction
from supervm_network import devnet

pytestmark = pytest.mark.slow

SENDERS = dev_accounts(10)[5:]
TO = bytes.fromhex("0d" * 20)


class Net:
    """A devnet and what the test saw of it."""

    def __init__(self, root: Path, net: devnet.Devnet) -> None:
        self.root = root
        self.net = net
        self.procs: dict[int, int] = {n.index: n.pid for n in net.nodes}
        self.extra: list[tuple[int, str, str]] = []  # (pid, rpc, data_dir) of non-validators
        #: Final blocks seen: number -> hash.
        self.final: dict[int, str] = {}
        #: Transactions whose receipt some node served: hash -> block hash.
        self.receipts: dict[str, str] = {}
        self.nonces = dict.fromkeys(range(len(SENDERS)), 0)

    @property
    def urls(self) -> list[str]:
        return [n.rpc for n in self.net.nodes] + [rpc for _, rpc, _ in self.extra]

    def call(self, url: str, method: str, *params: Any) -> Any:
        return devnet.rpc_call(url, method, params, timeout=10.0)

    def send(self, url: str, count: int) -> list[str]:
        """``count`` transfers, round robin over the senders, sent to ``url``."""
        hashes = []
        for i in range(count):
            who = i % len(SENDERS)
            account = SENDERS[who]
            unsigned = UnsignedTransaction(
                type=2, chain_id=31337, nonce=self.nonces[who], max_priority_fee_per_gas=10**9,
                max_fee_per_gas=100 * 10**9, gas=21_000, to=TO, value=1 + i, data=b"",
            )  # fmt: skip
            raw = encode_transaction(sign_transaction(unsigned, account.private_key))
            hashes.append(self.call(url, "eth_sendRawTransaction", "0x" + raw.hex()))
            self.nonces[who] += 1
        return hashes

    def observe(self, urls: list[str] | None = None) -> None:
        """Record what the nodes call final, checking none was reverted."""
        for url in urls or self.urls:
            try:
                final = self.call(url, "eth_getBlockByNumber", "finalized", False)
            except devnet.DevnetError:
                continue  # a stopped node
            number, block_hash = int(final["number"], 16), final["hash"]
            known = self.final.setdefault(number, block_hash)
            assert known == block_hash, f"{url}: two final blocks at {number}"
            for seen_number, seen_hash in self.final.items():
                if seen_number <= number:
                    block = self.call(url, "eth_getBlockByNumber", hex(seen_number), False)
                    assert block["hash"] == seen_hash, f"{url} reverted final block {seen_number}"

    def wait_receipts(self, url: str, hashes: list[str], timeout: float = 60.0) -> None:
        def done() -> bool:
            for tx_hash in hashes:
                if tx_hash in self.receipts:
                    continue
                receipt = self.call(url, "eth_getTransactionReceipt", tx_hash)
                if receipt is None:
                    return False
                assert receipt["status"] == "0x1"
                self.receipts[tx_hash] = receipt["blockHash"]
            return True

        until(done, timeout, f"receipts of {len(hashes)} transactions from {url}")

    def agree(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until every running node has the same head and state root (after traffic
        stops, the next empty block settles it); check receipts and finality."""
        urls = self.urls

        def heads() -> list[tuple[str, str]]:
            out = []
            for url in urls:
                block = self.call(url, "eth_getBlockByNumber", "latest", False)
                out.append((block["hash"], block["stateRoot"]))
            return out

        seen: list[tuple[str, str]] = []

        def same() -> bool:
            nonlocal seen
            seen = heads()
            return len(set(seen)) == 1

        until(same, timeout, "the nodes agreeing on the head", lambda: str(seen))
        self.observe(urls)
        self.check_receipts(urls, timeout)
        return dict(self.call(urls[0], "eth_getBlockByNumber", "latest", False))

    def check_receipts(self, urls: list[str], timeout: float) -> None:
        """Every transaction whose receipt was served is in every node's chain.

        One served from a block that was final then must still be in that block. One served
        from a block not yet final may have been taken off the chain by a reorg (a healed
        validator's in-turn block outweighs the out-of-turn one sealed in its place, as in
        Clique); the reorg puts it back in the pools, so it must be included again.
        """
        final_hashes = set(self.final.values())
        missing: list[str] = []

        def present() -> bool:
            missing.clear()
            for tx_hash, block_hash in self.receipts.items():
                for url in urls:
                    receipt = self.call(url, "eth_getTransactionReceipt", tx_hash)
                    if block_hash in final_hashes:
                        assert receipt is not None and receipt["blockHash"] == block_hash, (
                            f"{url} lost transaction {tx_hash} of final block {block_hash}"
                        )
                    if receipt is None:
                        missing.append(f"{tx_hash} on {url}")
                    else:
                        assert receipt["status"] == "0x1"
            return not missing

        until(present, timeout, "served transactions to be in every chain", lambda: str(missing))
        for tx_hash in self.receipts:
            receipt = self.call(urls[0], "eth_getTransactionReceipt", tx_hash)
            self.receipts[tx_hash] = receipt["blockHash"]

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        os.kill(self.procs[index], sig)
        if sig == signal.SIGKILL:
            _reap(self.procs[index])

    def restart(self, index: int) -> None:
        node = self.net.nodes[index]
        process = devnet.start_process(node.cmd, Path(node.log))
        self.procs[index] = process.pid
        devnet.wait_serving(node.rpc, process.pid, Path(node.log), 90)

    def add_follower(self) -> str:
        """A fifth node, no validator key, bootnode the first validator: syncs from genesis."""
        rpc_port, p2p_port = devnet.free_ports(2)
        data_dir = self.root / "follower"
        first = self.net.nodes[0]
        cmd = devnet.node_command(
            genesis=self.net.genesis, data_dir=data_dir, key=Path("/dev/null"),
            rpc_port=rpc_port, p2p_port=p2p_port, bootnodes=[first.p2p],
        )  # fmt: skip
        at = cmd.index("--validator-key")
        del cmd[at : at + 2]
        log = self.root / "follower.log"
        process = devnet.start_process(cmd, log)
        url = f"http://127.0.0.1:{rpc_port}/"
        devnet.wait_serving(url, process.pid, log, 90)
        self.extra.append((process.pid, url, str(data_dir)))
        return url

    def stop_all(self) -> None:
        devnet.down(self.root)
        for pid, _, _ in self.extra:
            devnet._stop(pid)
        for pid in self.procs.values():
            devnet._stop(pid, grace=5)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    detail: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except devnet.DevnetError:
            pass  # a node between restarts
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} {detail()}")
        time.sleep(0.25)


def _network_available() -> bool:
    try:
        import supervm_network.service  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def four(tmp_path: Path) -> Iterator[Net]:
    if not _network_available():
        pytest.skip("the network plugin is not installed")
    net = Net(tmp_path, devnet.up(tmp_path, 4, timeout=150))
    try:
        yield net
    finally:
        net.stop_all()


def test_four_validators_agree_a_fifth_syncs_and_a_killed_one_returns(four: Net) -> None:
    net = four
    first = net.net.nodes[0].rpc
    hashes = net.send(first, 20)
    net.wait_receipts(first, hashes)
    net.observe()
    head = net.agree()
    # Every validator sealed (the turns rotate), so blocks travelled every way.
    assert int(head["number"], 16) >= 4
    for node in net.net.nodes:
        assert "sealed block" in Path(node.log).read_text(), f"node-{node.index} never sealed"
    # A fifth node joins late and syncs from genesis while blocks keep coming.
    follower = net.add_follower()
    more = net.send(net.net.nodes[1].rpc, 10)
    net.wait_receipts(follower, more, timeout=90)
    net.agree(timeout=90)
    # kill -9 of a validator, traffic meanwhile, and its restart on its data directory.
    net.kill(2)
    during = net.send(net.net.nodes[3].rpc, 10)
    net.wait_receipts(net.net.nodes[3].rpc, during, timeout=90)
    net.restart(2)
    net.agree(timeout=90)


@pytest.mark.ci_only
def test_a_partitioned_validator_heals(four: Net) -> None:
    net = four
    lone = 1
    net.send(net.net.nodes[0].rpc, 5)
    net.agree()
    os.kill(net.procs[lone], signal.SIGSTOP)
    try:
        others = [n.rpc for i, n in enumerate(net.net.nodes) if i != lone]
        hashes = net.send(others[0], 20)
        net.wait_receipts(others[0], hashes, timeout=90)
        net.observe(others)
    finally:
        os.kill(net.procs[lone], signal.SIGCONT)
    net.agree(timeout=120)
    # The healed validator takes part again: blocks keep being sealed by all four.
    hashes = net.send(net.net.nodes[lone].rpc, 10)
    net.wait_receipts(net.net.nodes[0].rpc, hashes, timeout=90)
    net.agree(timeout=90)


@pytest.mark.ci_only
def test_repeated_kills_under_load(four: Net) -> None:
    net = four
    for round_ in range(3):
        victim = round_ % 4
        target = net.net.nodes[(victim + 1) % 4].rpc
        hashes = net.send(target, 15)
        net.kill(victim)
        net.wait_receipts(target, hashes, timeout=120)
        net.observe([n.rpc for i, n in enumerate(net.net.nodes) if i != victim])
        net.restart(victim)
        net.agree(timeout=120)
