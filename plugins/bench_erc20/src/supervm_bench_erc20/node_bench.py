"""``supervm bench node``: signed ERC20 transfers over JSON-RPC, SuperVM against Hardhat.

One run starts up to three nodes as subprocesses, one after the other, and drives them with the
same client code:

- ``supervm node --dev`` (JSON-RPC and Prometheus metrics on free ports, its chain in a
  temporary directory), with the AssemblyScript ERC20 (``examples/contracts/erc20-as``);
- a second, fresh ``supervm node --dev`` with the Solidity ERC20 (``examples/contracts/erc20-sol``)
  on the EVM backend (``evm_revm_bridge``), through the same kernel state (skipped with
  ``--skip-evm``);
- ``hardhat node`` (npm ``hardhat@2``, from the ``node_modules`` that ``make install`` fills),
  with the Solidity ERC20 (``examples/contracts/erc20-sol``), automining, transaction logging
  off (its fastest setting).

On each node, untimed: dev account 0 deploys the token, sends ETH to ``senders`` fresh accounts
(keys derived from a fixed phrase) and gives each of them tokens; then every transfer is signed
(signing is the client's cost, on both sides kept out of the timing) and each JSON-RPC batch
body is encoded. Timed: the batches go out over a few concurrent HTTP connections, each
connection carrying a fixed set of senders and each batch at most one transaction per sender
(Hardhat runs a batch's calls concurrently and its automining refuses a nonce gap, so this is
what keeps each sender's nonces in order), while a watcher polls the head and counts the
transactions of each new block.
``tps = transactions / (last inclusion seen - first submission)``.

Then, untimed, both runs are checked: every receipt has status 1 and lies in a block after the
setup, and every sender's token balance is what the transfers make it (a fast wrong run cannot
pass). For SuperVM the node's metrics are scraped before and after the timed phase, which
splits its time into JSON-RPC handling, decoding and sender recovery, execution and commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import aiohttp
import attrs
import click
import orjson
from eth_abi.abi import decode, encode
from prometheus_client.parser import text_string_to_metric_families
from supervm import Artifact, Kernel, SuperVMError
from supervm.chain.dev_accounts import dev_account
from supervm.chain.genesis import DEFAULT_GAS_LIMIT
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    UnsignedTransaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from supervm.crypto import keccak256
from supervm.execution.wasm_binary import with_end_marker
from supervm.node.keyfile import address_of
from supervm.state.addresses import create_address
from supervm.tooling.toolchain import node_modules_dirs

from .bench import build_artifacts
from .engines import BALANCE_OF, SUPPLY, constructor_args, transfer_calldata

CHAIN_ID: Final = 31337
DEFAULT_TRANSACTIONS: Final = 5000
DEFAULT_SENDERS: Final = 200
DEFAULT_BATCH: Final = 100
DEFAULT_CONNECTIONS: Final = 2
#: The Hardhat node gets the block gas limit of SuperVM's dev chain.
BLOCK_GAS_LIMIT: Final = DEFAULT_GAS_LIMIT
#: Fees every transaction offers: a tip, and a cap well above any base fee the run reaches.
TIP: Final = 10**9
FEE_CAP: Final = 100 * 10**9
#: Tokens each sender receives before the timed phase (each transfer moves 1).
SENDER_TOKENS: Final = 10**6
DEPLOY_GAS: Final = 9_000_000
#: A sender's transactions in the pool at once: below the mempool's per-sender limit (64).
SETUP_CHUNK: Final = 50
#: How often the watcher asks for the head, in seconds.
POLL_INTERVAL: Final = 0.02
#: Calls per batch when the client reads blocks, receipts and balances (untimed or light).
READ_BATCH: Final = 500
#: How long a node may take to start serving, and the timed phase to finish.
START_TIMEOUT: Final = 120.0
RUN_TIMEOUT: Final = 900.0
HARDHAT_VERSION_MAJOR: Final = "2"

_SUPERVM_READY = "Started HTTP and WebSocket JSON-RPC server at "
_SUPERVM_NO_RPC = "No JSON-RPC server"
_METRICS_AT = "Prometheus metrics at "
_HARDHAT_READY = "Started HTTP and WebSocket JSON-RPC server at "
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HARDHAT_CONFIG = """\
// Written by `supervm bench node`: the Hardhat network the benchmark runs against.
module.exports = {
  networks: {
    hardhat: {
      chainId: %(chain_id)d,
      blockGasLimit: %(gas_limit)d,
      mining: { auto: true, interval: 0 },
      loggingEnabled: false,
    },
  },
};
"""

#: The SuperVM metrics the split reads, seconds each (a histogram's ``_sum`` or a counter), by
#: stage; the first name the node serves wins. Decoding, sender recovery and a block's whole
#: sealing have no metric yet (docs/bench-node.md): the first two are then measured in the
#: bench process instead, the third is left out.
SPLIT_METRICS: Final[Mapping[str, tuple[str, ...]]] = {
    "rpc": ("rpc_duration_eth_sendRawTransaction_success",),
    "decode": ("rpc_transaction_decode_seconds_total", "rpc_transaction_decode_seconds"),
    "recover": ("rpc_sender_recovery_seconds_total", "rpc_sender_recovery_seconds"),
    "seal": ("chain_block_seal_seconds",),
    "execution": ("chain_block_execution_seconds",),
    "commit": ("chain_block_commit_seconds",),
}
ESTIMATE: Final = "estimate"
STAGE_LABELS: Final[Mapping[str, str]] = {
    "rpc": "JSON-RPC eth_sendRawTransaction (all of it)",
    "decode": "  of which decoding",
    "recover": "  of which sender recovery",
    "seal": "block sealing (all of it)",
    "execution": "  of which execution",
    "commit": "  of which commit",
}


class BenchNodeError(SuperVMError):
    """The node benchmark could not run, or a node answered it wrongly."""


@attrs.frozen
class Workload:
    """What one run sends to each node.

    :param transactions: signed transfers in the timed phase.
    :param senders: accounts sending them, round-robin (sender ``i % senders`` sends the
        ``i``-th), each to the next sender.
    :param batch: JSON-RPC calls per HTTP request.
    :param connections: concurrent HTTP connections submitting.
    """

    transactions: int = DEFAULT_TRANSACTIONS
    senders: int = DEFAULT_SENDERS
    batch: int = DEFAULT_BATCH
    connections: int = DEFAULT_CONNECTIONS

    def __attrs_post_init__(self) -> None:
        if self.transactions < 1:
            raise BenchNodeError("--transactions must be at least 1")
        if self.senders < 2:
            raise BenchNodeError("--senders must be at least 2 (each sends to the next)")
        if self.batch < 1:
            raise BenchNodeError("--batch must be at least 1")
        if self.connections < 1:
            raise BenchNodeError("--connections must be at least 1")
        if self.batch * self.connections > self.senders:
            # Hardhat runs a batch's calls concurrently and its automining refuses a nonce gap:
            # a batch may hold one transaction per sender only, and each connection has its
            # own senders.
            raise BenchNodeError(
                f"--batch x --connections ({self.batch} x {self.connections}) must not exceed "
                f"--senders ({self.senders}): a batch holds at most one transaction per sender"
            )

    def plan(self) -> list[tuple[int, int, int]]:
        """``(sender, nonce, recipient)`` of each transfer, in submission order."""
        s = self.senders
        return [(i % s, i // s, (i % s + 1) % s) for i in range(self.transactions)]


@attrs.frozen
class SideResult:
    """One node's timed phase.

    :param name: ``supervm`` or ``hardhat``.
    :param tps: transactions per second, first submission to the last inclusion seen.
    :param seconds: that interval.
    :param submit_seconds: first submission to the last batch's answer.
    :param blocks: blocks the transactions landed in.
    :param transfer_gas: the gas limit each transfer carried (its estimate plus a quarter).
    :param cpu_seconds: CPU time the node's process used in that interval, all threads
        (``None`` where ``/proc`` does not tell): unlike the rates, it hardly depends on what
        else the machine runs.
    :param client_cpu_seconds: CPU time the benchmark's own process (the client) used then.
    """

    name: str
    tps: float
    seconds: float
    submit_seconds: float
    blocks: int
    transfer_gas: int
    cpu_seconds: float | None = None
    client_cpu_seconds: float = 0.0

    def cpu_per_transaction(self, transactions: int) -> float | None:
        """Microseconds of node CPU per transaction."""
        return None if self.cpu_seconds is None else self.cpu_seconds / transactions * 1e6


@attrs.frozen
class Split:
    """Where SuperVM's node spent the timed phase, in seconds (``None``: not measured).

    The stages overlap in time: requests are handled on the event loop while the producer seals
    in its writer thread, so shares need not add up to 100%.

    :param wall: the timed phase's seconds (the denominator of each share).
    :param stages: stage name (:data:`SPLIT_METRICS`) to seconds.
    :param sources: stage name to where its figure comes from: the metric's name, or
        ``estimate`` (the node's own decoding code, timed in the bench process on the same
        transactions).
    :param missing: the stages the node serves no metric for, with the names looked for.
    """

    wall: float
    stages: Mapping[str, float | None]
    sources: Mapping[str, str]
    missing: Mapping[str, tuple[str, ...]]

    def share(self, stage: str) -> float | None:
        """A stage's seconds over the wall time."""
        value = self.stages.get(stage)
        return None if value is None or self.wall <= 0 else value / self.wall


@attrs.frozen
class NodeReport:
    """One run: SuperVM's figures (the WASM ERC20, and the Solidity ERC20 on its EVM backend
    unless skipped), Hardhat's (unless skipped) and the split of the WASM run."""

    workload: Workload
    supervm: SideResult
    hardhat: SideResult | None
    split: Split
    evm: SideResult | None = None

    @property
    def evm_ratio(self) -> float | None:
        """The EVM run's rate over the WASM run's, on SuperVM."""
        return None if self.evm is None else self.evm.tps / self.supervm.tps

    @property
    def ratio(self) -> float | None:
        """SuperVM's rate over Hardhat's."""
        return None if self.hardhat is None else self.supervm.tps / self.hardhat.tps

    @property
    def cpu_ratio(self) -> float | None:
        """Hardhat's CPU per transaction over SuperVM's."""
        if self.hardhat is None or not self.hardhat.cpu_seconds or not self.supervm.cpu_seconds:
            return None
        return self.hardhat.cpu_seconds / self.supervm.cpu_seconds

    def as_json(self) -> dict[str, object]:
        """The ``--json`` line."""
        out: dict[str, object] = {
            "supervm_tps": round(self.supervm.tps, 1),
            "hardhat_tps": None if self.hardhat is None else round(self.hardhat.tps, 1),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "transactions": self.workload.transactions,
            "senders": self.workload.senders,
            "batch": self.workload.batch,
            "supervm_blocks": self.supervm.blocks,
            "supervm_s": round(self.supervm.seconds, 4),
            "supervm_evm_tps": None if self.evm is None else round(self.evm.tps, 1),
            "supervm_evm_s": None if self.evm is None else round(self.evm.seconds, 4),
            "supervm_evm_blocks": None if self.evm is None else self.evm.blocks,
            "evm_ratio": None if self.evm_ratio is None else round(self.evm_ratio, 3),
        }
        n = self.workload.transactions
        sides = ((self.supervm, "supervm"), (self.evm, "supervm_evm"), (self.hardhat, "hardhat"))
        for side, key in sides:
            cpu = None if side is None else side.cpu_per_transaction(n)
            out[f"{key}_cpu_us_per_tx"] = None if cpu is None else round(cpu, 1)
        out["cpu_ratio"] = None if self.cpu_ratio is None else round(self.cpu_ratio, 3)
        for stage in SPLIT_METRICS:
            seconds = self.split.stages.get(stage)
            share = self.split.share(stage)
            out[f"{stage}_s"] = None if seconds is None else round(seconds, 4)
            out[f"{stage}_share"] = None if share is None else round(share, 4)
        out["estimated"] = sorted(k for k, v in self.split.sources.items() if v == ESTIMATE)
        return out


# -- accounts and transactions ----------------------------------------------------------------


def sender_keys(n: int) -> list[bytes]:
    """``n`` private keys, the same in every run."""
    return [keccak256(b"supervm bench node sender %d" % i) for i in range(n)]


def signed_raw(
    key: bytes, nonce: int, to: bytes | None, data: bytes, gas: int, value: int = 0
) -> str:
    """A signed EIP-1559 transaction for the benchmark's chain, as ``eth_sendRawTransaction``
    takes it (hex)."""
    unsigned = UnsignedTransaction(
        type=DYNAMIC_FEE_TX_TYPE, chain_id=CHAIN_ID, nonce=nonce,
        max_priority_fee_per_gas=TIP, max_fee_per_gas=FEE_CAP, gas=gas, to=to, value=value,
        data=data,
    )  # fmt: skip
    return "0x" + encode_transaction(sign_transaction(unsigned, key)).hex()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


# -- JSON-RPC client --------------------------------------------------------------------------


class RpcClient:
    """JSON-RPC over HTTP with batches, on one aiohttp session (one connection per task)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def post(self, body: bytes) -> Any:
        """POST a request body already encoded; the decoded answer."""
        async with self.session.post(
            self.url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            data = await response.read()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BenchNodeError(
                f"{self.url} answered HTTP {response.status} with no JSON: {data[:200]!r}"
            ) from None

    async def call(self, method: str, *params: Any) -> Any:
        """One call's result; an error answer raises :class:`BenchNodeError`."""
        answer = await self.post(orjson.dumps(_request(0, method, params)))
        return _result(answer, method)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of ``calls`` in order, in batches of :data:`READ_BATCH`."""
        out: list[Any] = []
        for start in range(0, len(calls), READ_BATCH):
            chunk = calls[start : start + READ_BATCH]
            body = orjson.dumps([_request(i, m, p) for i, (m, p) in enumerate(chunk)])
            answer = await self.post(body)
            out.extend(_batch_results(answer, [m for m, _ in chunk]))
        return out


class BatchClient(Protocol):
    """What :func:`verify` needs of a client (:class:`RpcClient`, or a test's fake)."""

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of ``calls`` in order."""
        ...


def _request(id_: int, method: str, params: Sequence[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}


def _result(answer: Any, method: str) -> Any:
    if not isinstance(answer, dict):
        raise BenchNodeError(f"{method}: the node answered {str(answer)[:200]}")
    if "error" in answer:
        error = answer["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise BenchNodeError(f"{method}: {message}")
    return answer.get("result")


def _batch_results(answer: Any, methods: Sequence[str]) -> list[Any]:
    if not isinstance(answer, list) or len(answer) != len(methods):
        raise BenchNodeError(
            f"a batch of {len(methods)} calls was answered with {str(answer)[:200]}"
        )
    by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
    return [_result(by_id.get(i), m) for i, m in enumerate(methods)]


# -- the workload against one node ------------------------------------------------------------


@attrs.frozen
class _Token:
    address: bytes
    transfer_gas: int


async def _wait_receipts(client: RpcClient, hashes: Sequence[str], timeout: float) -> list[Any]:
    """Every receipt of ``hashes``, polling until all are there."""
    deadline = time.monotonic() + timeout
    receipts: list[Any] = [None] * len(hashes)
    while True:
        missing = [i for i, r in enumerate(receipts) if r is None]
        if not missing:
            return receipts
        found = await client.batch([("eth_getTransactionReceipt", [hashes[i]]) for i in missing])
        for i, receipt in zip(missing, found, strict=True):
            receipts[i] = receipt
        if any(r is None for r in receipts):
            if time.monotonic() > deadline:
                left = sum(r is None for r in receipts)
                raise BenchNodeError(f"{left} transactions not included within {timeout:.0f} s")
            await asyncio.sleep(0.05)


async def _send_and_wait(
    client: RpcClient, raws: Sequence[str], what: str, *, batched: bool
) -> list[Any]:
    """Submit ``raws`` (one sender's, in nonce order) in chunks the pool takes; their receipts.

    :param batched: one batch per chunk (SuperVM's pool queues a nonce that arrives early);
        otherwise one call at a time, since Hardhat runs a batch's calls concurrently and its
        automining refuses a nonce gap.
    """
    receipts: list[Any] = []
    for start in range(0, len(raws), SETUP_CHUNK):
        chunk = raws[start : start + SETUP_CHUNK]
        if batched:
            hashes = await client.batch([("eth_sendRawTransaction", [r]) for r in chunk])
        else:
            hashes = [await client.call("eth_sendRawTransaction", r) for r in chunk]
        receipts.extend(await _wait_receipts(client, hashes, 120.0))
    failed = [r for r in receipts if r.get("status") != "0x1"]
    if failed:
        raise BenchNodeError(f"{what}: {len(failed)} transactions failed, e.g. {failed[0]}")
    return receipts


async def _rest(client: RpcClient, progress: Callable[[str], None]) -> None:
    """Wait until the head's timestamp is no longer ahead of the clock.

    A node that seals a block per second of timestamp at most, and lets timestamps run only a
    few seconds ahead of the clock (SuperVM's proof of authority), is throttled right after a
    burst of setup blocks; the timed phase starts from a rested node instead, as a node that
    was idle a while is.
    """
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        head = await client.call("eth_getBlockByNumber", "latest", False)
        ahead = int(head["timestamp"], 16) - time.time()
        if ahead <= 0:
            return
        progress(f"waiting {ahead:.0f} s for the clock to catch up with the head's timestamp")
        await asyncio.sleep(min(ahead, 1.0) + 0.05)
    raise BenchNodeError("the head's timestamp stayed ahead of the clock for 60 s")


async def _estimate(client: RpcClient, sender: bytes, to: bytes, data: bytes, value: int) -> int:
    request = {"from": _hex(sender), "to": _hex(to), "data": _hex(data), "value": hex(value)}
    return int(await client.call("eth_estimateGas", request), 16)


async def _setup(
    client: RpcClient,
    workload: Workload,
    keys: Sequence[bytes],
    deploy_code: bytes,
    progress: Callable[[str], None],
    *,
    batched: bool,
) -> _Token:
    """Deploy the token from dev account 0, fund the senders with ETH and tokens."""
    chain_id = int(await client.call("eth_chainId"), 16)
    if chain_id != CHAIN_ID:
        raise BenchNodeError(f"the node's chain id is {chain_id}, expected {CHAIN_ID}")
    owner = dev_account(0)
    nonce = int(await client.call("eth_getTransactionCount", _hex(owner.address), "pending"), 16)
    token = create_address(owner.address, nonce)
    progress("deploying the token")
    (receipt,) = await _send_and_wait(
        client,
        [signed_raw(owner.private_key, nonce, None, deploy_code, DEPLOY_GAS)],
        "deploy",
        batched=batched,
    )
    if receipt.get("contractAddress") != _hex(token):
        raise BenchNodeError(f"the token was deployed at {receipt.get('contractAddress')}")
    nonce += 1
    addresses = [address_of(k) for k in keys]
    per_sender = -(-workload.transactions // workload.senders)
    probe = transfer_calldata(addresses[1], SENDER_TOKENS)
    token_gas = await _estimate(client, owner.address, token, probe, 0)
    eth_gas = await _estimate(client, owner.address, addresses[0], b"", 1)
    # Each sender pays at most its transfers' gas at the fee cap; a little more for safety.
    ether = (per_sender + 1) * 2 * token_gas * FEE_CAP
    progress(f"funding {len(addresses)} senders with ETH and tokens")
    raws = []
    for address in addresses:
        raws.append(signed_raw(owner.private_key, nonce, address, b"", eth_gas, ether))
        nonce += 1
    for address in addresses:
        data = transfer_calldata(address, SENDER_TOKENS)
        raws.append(signed_raw(owner.private_key, nonce, token, data, token_gas + token_gas // 4))
        nonce += 1
    await _send_and_wait(client, raws, "funding the senders", batched=batched)
    # A transfer between two funded senders: what each timed transfer costs.
    gas = await _estimate(client, addresses[0], token, transfer_calldata(addresses[1], 1), 0)
    return _Token(token, gas + gas // 4)


def batches(workload: Workload, raws: Sequence[str]) -> list[list[bytes]]:
    """Each connection's request bodies: its senders' transactions in order, ``batch`` a body."""
    plan = workload.plan()
    lanes: list[list[str]] = [[] for _ in range(workload.connections)]
    for (sender, _nonce, _to), raw in zip(plan, raws, strict=True):
        lanes[sender % workload.connections].append(raw)
    out = []
    for lane in lanes:
        bodies = []
        for start in range(0, len(lane), workload.batch):
            chunk = lane[start : start + workload.batch]
            calls = [_request(i, "eth_sendRawTransaction", [r]) for i, r in enumerate(chunk)]
            bodies.append(orjson.dumps(calls))
        out.append(bodies)
    return out


async def _submit(client: RpcClient, bodies: Sequence[bytes]) -> list[str]:
    """Send one connection's bodies in order; the hashes, an error on any rejection."""
    hashes: list[str] = []
    for body in bodies:
        answer = await client.post(body)
        if not isinstance(answer, list):
            raise BenchNodeError(f"a batch was answered with {str(answer)[:200]}")
        for item in sorted(answer, key=lambda a: a.get("id", 0)):
            if "error" in item:
                raise BenchNodeError(f"eth_sendRawTransaction: {item['error'].get('message')}")
            hashes.append(item["result"])
    return hashes


async def _watch(client: RpcClient, first_block: int, expected: int) -> tuple[float, int]:
    """Poll the head until ``expected`` transactions are in blocks after ``first_block``.

    Returns the time the last one was seen and the number of blocks that held them.
    """
    seen, counted, blocks = 0, first_block, 0
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        head = int(await client.call("eth_blockNumber"), 16)
        if head > counted:
            numbers = range(counted + 1, head + 1)
            counts = await client.batch(
                [("eth_getBlockTransactionCountByNumber", [hex(n)]) for n in numbers]
            )
            found = [int(c, 16) for c in counts]
            seen += sum(found)
            blocks += sum(1 for c in found if c)
            counted = head
            if seen >= expected:
                return time.perf_counter(), blocks
        if time.monotonic() > deadline:
            raise BenchNodeError(f"only {seen} of {expected} transfers included after the timeout")
        await asyncio.sleep(POLL_INTERVAL)


def expected_balances(workload: Workload) -> list[int]:
    """Each sender's token balance after the transfers, then the deployer's (the rest of the
    supply: no token may be made or lost anywhere)."""
    expected = [SENDER_TOKENS] * workload.senders
    for sender, _nonce, recipient in workload.plan():
        expected[sender] -= 1
        expected[recipient] += 1
    return [*expected, SUPPLY - SENDER_TOKENS * workload.senders]


async def verify(
    client: BatchClient,
    workload: Workload,
    addresses: Sequence[bytes],
    token: bytes,
    hashes: Sequence[str],
    first_block: int,
) -> None:
    """Every transfer succeeded after ``first_block`` and the balances add up."""
    receipts = await client.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
    bad = [
        (h, r)
        for h, r in zip(hashes, receipts, strict=True)
        if r is None or r.get("status") != "0x1" or int(r["blockNumber"], 16) <= first_block
    ]
    if bad:
        raise BenchNodeError(f"{len(bad)} transfers failed or are missing, e.g. {bad[0]}")
    expected = expected_balances(workload)
    holders = [*addresses, dev_account(0).address]
    calls = []
    for holder in holders:
        data = BALANCE_OF + encode(["address"], [_hex(holder)])
        calls.append(("eth_call", [{"to": _hex(token), "data": _hex(data)}, "latest"]))
    answers = await client.batch(calls)
    balances = [int(decode(["uint256"], bytes.fromhex(r[2:]))[0]) for r in answers]
    wrong = [i for i, (b, e) in enumerate(zip(balances, expected, strict=True)) if b != e]
    if wrong:
        i = wrong[0]
        raise BenchNodeError(
            f"{len(wrong)} accounts end with a wrong token balance, e.g. account {i}: "
            f"{balances[i]} instead of {expected[i]}"
        )


@attrs.frozen
class Served:
    """A node the benchmark started.

    :param url: its JSON-RPC endpoint.
    :param pid: its process.
    :param metrics: its Prometheus endpoint, if it serves one.
    """

    url: str
    pid: int
    metrics: str | None = None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds process ``pid`` and its live descendants used so far (all
    their threads), from ``/proc``; ``None`` where that is not available.

    Descendants count because a node may hand work to worker processes (the JSON-RPC server
    recovers a batch's senders in one): their CPU is the node's cost too.

    :param pid: the process.
    """
    try:
        total = _own_cpu(pid)
    except (OSError, ValueError, IndexError):
        return None
    for child in _children(pid):
        try:
            total += cpu_seconds(child) or 0.0
        except RecursionError:  # pragma: no cover - a process tree thousands deep
            break
    return total


def _own_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: fields after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found += [int(c) for c in text.split()]
    except (OSError, ValueError):
        pass
    return found


@attrs.frozen
class _Outcome:
    result: SideResult
    before: Mapping[str, float]
    after: Mapping[str, float]
    raws: Sequence[str]


async def _drive(
    name: str,
    served: Served,
    workload: Workload,
    deploy_code: bytes,
    progress: Callable[[str], None],
    around: Callable[[], Mapping[str, float]] | None = None,
    *,
    batched_setup: bool = False,
    rest: bool = False,
) -> _Outcome:
    """Set up, run the timed phase and verify against one node.

    :param around: called right before and right after the timed phase (SuperVM's metrics
        scrape); its two results are returned with the figures.
    :param batched_setup: send the setup's transactions in batches (see :func:`_send_and_wait`).
    :param rest: wait for the clock to catch up with the head before the timed phase
        (see :func:`_rest`).
    """
    keys = sender_keys(workload.senders)
    addresses = [address_of(k) for k in keys]
    timeout = aiohttp.ClientTimeout(total=RUN_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=workload.connections + 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = RpcClient(served.url, session)
        say = lambda m: progress(f"{name}: {m}")  # noqa: E731
        token = await _setup(client, workload, keys, deploy_code, say, batched=batched_setup)
        progress(f"{name}: signing {workload.transactions:,} transfers")
        raws = [
            signed_raw(
                keys[s], n, token.address, transfer_calldata(addresses[r], 1), token.transfer_gas
            )
            for s, n, r in workload.plan()
        ]
        lanes = batches(workload, raws)
        if rest:
            await _rest(client, say)
        first_block = int(await client.call("eth_blockNumber"), 16)
        before = around() if around is not None else None
        cpu_before = cpu_seconds(served.pid)
        client_before = time.process_time()
        progress(
            f"{name}: submitting {workload.transactions:,} transfers in batches of "
            f"{workload.batch} over {workload.connections} connections"
        )
        started = time.perf_counter()
        watcher = asyncio.create_task(_watch(client, first_block, workload.transactions))

        async def lane(bodies: Sequence[bytes]) -> tuple[list[str], float]:
            out = await _submit(client, bodies)
            return out, time.perf_counter()

        try:
            submitted = await asyncio.gather(*(lane(bodies) for bodies in lanes))
            ended, blocks = await watcher
        finally:
            watcher.cancel()
        cpu_after = cpu_seconds(served.pid)
        client_cpu = time.process_time() - client_before
        after = around() if around is not None else None
        submit_end = max(t for _, t in submitted)
        hashes = [h for lane_hashes, _ in submitted for h in lane_hashes]
        progress(f"{name}: checking receipts and balances")
        await verify(client, workload, addresses, token.address, hashes, first_block)
    seconds = ended - started
    result = SideResult(
        name=name,
        tps=workload.transactions / seconds,
        seconds=seconds,
        submit_seconds=submit_end - started,
        blocks=blocks,
        transfer_gas=token.transfer_gas,
        cpu_seconds=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        client_cpu_seconds=client_cpu,
    )
    return _Outcome(result, before or {}, after or {}, raws)


# -- metrics ----------------------------------------------------------------------------------


def scrape(url: str) -> dict[str, float]:
    """A Prometheus endpoint's samples (:func:`parse_samples`).

    :param url: the ``/metrics`` address.
    """
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return parse_samples(response.read().decode())
    except OSError as exc:
        raise BenchNodeError(f"cannot read the node's metrics at {url}: {exc}") from None


def parse_samples(text: str) -> dict[str, float]:
    """Prometheus text exposition as sample name to value, each name summed over its labels.

    :param text: what a ``/metrics`` endpoint answers.
    """
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + float(sample.value)
    return out


def _metric(samples: Mapping[str, float], names: Sequence[str]) -> str | None:
    for name in names:
        for key in (f"{name}_sum", name):
            if key in samples:
                return key
    return None


def split_of(
    before: Mapping[str, float],
    after: Mapping[str, float],
    wall: float,
    estimates: Mapping[str, float] | None = None,
) -> Split:
    """The seconds each stage of :data:`SPLIT_METRICS` gained between two scrapes.

    :param estimates: seconds for the stages the node has no metric for (decoding and sender
        recovery, measured in the bench process).
    """
    stages: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for stage, names in SPLIT_METRICS.items():
        key = _metric(after, names)
        if key is not None:
            stages[stage] = after[key] - before.get(key, 0.0)
            sources[stage] = key
            continue
        missing[stage] = names
        if estimates is not None and stage in estimates:
            stages[stage] = estimates[stage]
            sources[stage] = ESTIMATE
        else:
            stages[stage] = None
    return Split(wall=wall, stages=stages, sources=sources, missing=missing)


def decode_costs(raws: Sequence[str], rounds: int = 3) -> dict[str, float]:
    """Seconds the node's own code takes to decode ``raws`` and to recover their senders.

    :func:`~supervm.chain.transactions.decode_transaction` (what ``eth_sendRawTransaction``
    calls) decodes, validates and recovers the sender; the recovery is then timed alone by
    dropping the cached sender and reading it again, and ``decode`` is the rest. The best of
    ``rounds`` rounds is kept (this process is otherwise idle, the node was not).
    """
    data = [bytes.fromhex(r[2:]) for r in raws]
    best_total = best_recover = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        txs = [decode_transaction(raw, chain_id=CHAIN_ID) for raw in data]
        best_total = min(best_total, time.perf_counter() - started)
        for tx in txs:
            tx.__dict__.pop("sender", None)
        started = time.perf_counter()
        for tx in txs:
            tx.sender  # noqa: B018 - the recovery is what is timed
        best_recover = min(best_recover, time.perf_counter() - started)
    return {"decode": max(best_total - best_recover, 0.0), "recover": best_recover}


# -- the nodes --------------------------------------------------------------------------------


class _Process:
    """A node subprocess whose stdout is read line by line in a thread (so it never blocks)."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path):
        self.argv = list(argv)
        self._log = log.open("wb")
        self.lines: list[str] = []
        self._cond = threading.Condition()
        try:
            self.proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._log,
            )  # fmt: skip
        except OSError as exc:
            self._log.close()
            raise BenchNodeError(f"cannot run {argv[0]}: {exc.strerror}") from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            # Colour codes: Hardhat's terminal library turns colours on when CI is set.
            line = _ANSI.sub("", raw.decode(errors="replace")).rstrip()
            with self._cond:
                # Only the first lines matter (the banner); later ones are dropped.
                if len(self.lines) < 200:
                    self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, prefixes: Sequence[str], timeout: float) -> str:
        """The first stdout line starting with one of ``prefixes``; an error if it exits."""
        deadline = time.monotonic() + timeout
        index = 0
        with self._cond:
            while True:
                for line in self.lines[index:]:
                    if line.startswith(tuple(prefixes)):
                        return line
                index = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise BenchNodeError(f"the node exited ({self.proc.returncode}): {self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchNodeError(
                        f"the node ({' '.join(self.argv[:3])}) did not start within "
                        f"{timeout:.0f} s; its output: {self.lines[-5:]} {self.tail()}"
                    )
                self._cond.wait(min(left, 0.5))

    def tail(self) -> str:
        """The end of the node's output, for errors."""
        self._log.flush()
        err = Path(self._log.name).read_text(errors="replace").strip().splitlines()[-5:]
        return " | ".join([*self.lines[-5:], *err]) or "no output"

    def stop(self) -> None:
        """SIGINT (the nodes' clean stop), then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self._log.close()


def _supervm_argv() -> list[str]:
    exe = Path(sys.executable).with_name("supervm")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("supervm")
    if found:
        return [found]
    return [sys.executable, "-c", "from supervm.cli.main import main; main()"]


@contextlib.contextmanager
def supervm_node(tmp: Path) -> Iterator[Served]:
    """A ``supervm node --dev`` serving JSON-RPC and metrics on free ports."""
    argv = [*_supervm_argv(), "node", "--dev", "--rpc-port", "0", "--metrics-port", "0"]
    argv += ["--data-dir", str(tmp / "supervm")]
    process = _Process(argv, tmp, os.environ, tmp / "supervm.log")
    try:
        line = process.wait_for([_SUPERVM_READY, _SUPERVM_NO_RPC], START_TIMEOUT)
        if line.startswith(_SUPERVM_NO_RPC):
            raise BenchNodeError(
                "supervm node serves no JSON-RPC: the rpc plugin (supervm-rpc) is not installed "
                "or not enabled"
            )
        url = line[len(_SUPERVM_READY) :].strip()
        metrics = next((m for m in process.lines if m.startswith(_METRICS_AT)), None)
        metrics_url = None if metrics is None else metrics[len(_METRICS_AT) :].strip()
        yield Served(url, process.proc.pid, metrics_url)
    finally:
        process.stop()


def find_hardhat(starts: Sequence[Path] = ()) -> Path:
    """Hardhat 2's CLI script in the first ``node_modules`` above ``starts`` that has it."""
    here = Path(__file__).parent
    for directory in node_modules_dirs(None, [*starts, Path.cwd(), here]):
        cli = directory / "hardhat" / "internal" / "cli" / "cli.js"
        package = directory / "hardhat" / "package.json"
        if cli.is_file() and package.is_file():
            version = orjson.loads(package.read_bytes()).get("version", "")
            if not str(version).startswith(HARDHAT_VERSION_MAJOR + "."):
                raise BenchNodeError(
                    f"{directory / 'hardhat'} is Hardhat {version}; the benchmark needs Hardhat 2"
                )
            return cli
    raise BenchNodeError(
        "hardhat (npm hardhat@2) was not found in any node_modules: run `make install` in the "
        "SuperVM checkout, or pass --skip-hardhat"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def hardhat_node(tmp: Path, cli: Path) -> Iterator[Served]:
    """``hardhat node`` on a free port, from a project in ``tmp``."""
    node = shutil.which("node")
    if node is None:
        raise BenchNodeError("node (Node.js) is not on PATH: Hardhat needs it")
    project = tmp / "hardhat"
    project.mkdir()
    # Hardhat insists on a local installation: the project sees the checkout's node_modules.
    (project / "node_modules").symlink_to(cli.parents[2].parent, target_is_directory=True)
    values = {"chain_id": CHAIN_ID, "gas_limit": BLOCK_GAS_LIMIT}
    (project / "hardhat.config.js").write_text(_HARDHAT_CONFIG % values)
    port = _free_port()
    env = {
        **os.environ,
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "NODE_NO_WARNINGS": "1",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }
    argv = [node, str(cli), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    process = _Process(argv, project, env, tmp / "hardhat.log")
    try:
        process.wait_for([_HARDHAT_READY], START_TIMEOUT)
        yield Served(f"http://127.0.0.1:{port}/", process.proc.pid)
    finally:
        process.stop()


# -- the run ----------------------------------------------------------------------------------


def _compile(tmp: Path, progress: Callable[[str], None]) -> tuple[Artifact, Artifact]:
    progress("compiling the AssemblyScript and Solidity ERC20s")
    with Kernel.from_plugins() as kernel:
        return build_artifacts(kernel, tmp / "build")


def run(
    workload: Workload,
    *,
    hardhat: bool = True,
    evm: bool = True,
    progress: Callable[[str], None] = lambda _m: None,
) -> NodeReport:
    """Run the workload on SuperVM with the WASM ERC20, then (unless ``evm`` is false) on a fresh
    SuperVM node with the Solidity ERC20 on its EVM backend, then (unless ``hardhat`` is false)
    on Hardhat with the same Solidity ERC20."""
    cli = find_hardhat() if hardhat else None
    with tempfile.TemporaryDirectory(prefix="supervm-bench-node-") as name:
        tmp = Path(name)
        wasm, solidity = _compile(tmp, progress)
        progress("starting supervm node --dev")
        with supervm_node(tmp) as served:
            progress(f"supervm node (pid {served.pid}) serving at {served.url}")
            metrics_url = served.metrics
            if metrics_url is None:
                raise BenchNodeError("supervm node serves no metrics: the metrics plugin is off")

            def scrape_metrics() -> Mapping[str, float]:
                assert metrics_url is not None
                return scrape(metrics_url)

            deploy = with_end_marker(wasm.bytecode) + constructor_args()
            mine = asyncio.run(
                _drive(
                    "supervm",
                    served,
                    workload,
                    deploy,
                    progress,
                    scrape_metrics,
                    batched_setup=True,
                    rest=True,
                )
            )
        missing = [s for s, n in SPLIT_METRICS.items() if _metric(mine.after, n) is None]
        estimates = decode_costs(mine.raws) if {"decode", "recover"} & set(missing) else None
        split = split_of(mine.before, mine.after, mine.result.seconds, estimates)
        on_evm = _run_evm(tmp, workload, solidity.bytecode, progress) if evm else None
        theirs = None
        if cli is not None:
            progress("starting hardhat node")
            with hardhat_node(tmp, cli) as hardhat_served:
                progress(f"hardhat node (pid {hardhat_served.pid}) at {hardhat_served.url}")
                deploy = solidity.bytecode + constructor_args()
                theirs = asyncio.run(_drive("hardhat", hardhat_served, workload, deploy, progress))
    return NodeReport(
        workload=workload,
        supervm=mine.result,
        hardhat=None if theirs is None else theirs.result,
        split=split,
        evm=on_evm,
    )


def _run_evm(
    tmp: Path, workload: Workload, creation_code: bytes, progress: Callable[[str], None]
) -> SideResult:
    """The workload on a fresh ``supervm node --dev`` with the Solidity ERC20 (EVM backend).

    A fresh node, so that its chain starts where the WASM run's did: the two rows differ in the
    token's engine only. Its metrics are not split (the split is the WASM run's).
    """
    work = tmp / "evm"
    work.mkdir()
    progress("starting supervm node --dev for the Solidity ERC20 (EVM backend)")
    with supervm_node(work) as served:
        progress(f"supervm node (pid {served.pid}) serving at {served.url}")
        deploy = creation_code + constructor_args()
        outcome = asyncio.run(
            _drive("supervm-evm", served, workload, deploy, progress, batched_setup=True, rest=True)
        )
    return outcome.result


# -- the command ------------------------------------------------------------------------------


def _seconds(value: float | None, wall: float) -> str:
    if value is None:
        return f"{'n/a':>9}"
    return f"{value:>8.3f}s {value / wall:>6.1%}" if wall > 0 else f"{value:>8.3f}s"


def print_report(report: NodeReport, echo: Callable[[str], None]) -> None:
    """The readable table."""
    w = report.workload
    echo(
        f"{w.transactions:,} signed ERC20 transfers from {w.senders:,} senders over JSON-RPC "
        f"(batches of {w.batch}, {w.connections} connections), submission to inclusion"
    )
    rows = (
        (report.supervm, "supervm", "WASM ERC20", ""),
        (report.evm, "sv-evm", "Solidity ERC20 on SuperVM's EVM backend", "--skip-evm"),
        (report.hardhat, "hardhat", "Solidity ERC20", "--skip-hardhat"),
    )
    for side, label, what, flag in rows:
        if side is None:
            echo(f"  {label:<8} skipped ({flag})")
            continue
        echo(
            f"  {label:<8} {side.tps:>9,.0f} tx/s  {side.seconds:>7.2f} s, "
            f"{side.blocks:,} blocks, submitted in {side.submit_seconds:.2f} s "
            f"({what}, gas limit {side.transfer_gas:,} each)"
        )
    if report.ratio is not None:
        echo(f"  supervm / hardhat  {report.ratio:.2f}   (target >= 10)")
    if report.evm_ratio is not None:
        echo(f"  sv-evm / supervm   {report.evm_ratio:.2f}   (Solidity on the EVM over WASM)")
    for side, label, _what, _flag in rows:
        if side is None or side.cpu_seconds is None:
            continue
        cpu = side.cpu_seconds / w.transactions * 1e6
        client = side.client_cpu_seconds / w.transactions * 1e6
        echo(
            f"  {label:<8} node CPU {cpu:>5.0f} us per transfer (with its workers), "
            f"{side.cpu_seconds / side.seconds:.0%} of a core; client CPU {client:.0f} us"
        )
    if report.cpu_ratio is not None:
        echo(f"  CPU per transfer, hardhat / supervm  {report.cpu_ratio:.2f}")
    split = report.split
    echo(f"  SuperVM node, seconds and share of the {split.wall:.2f} s timed phase:")
    for stage, label in STAGE_LABELS.items():
        echo(f"    {label:<44} {_seconds(split.stages.get(stage), split.wall)}")
    for stage, names in split.missing.items():
        how = "measured in the bench process" if split.sources.get(stage) == ESTIMATE else "n/a"
        echo(f"    ({stage}: the node serves none of {', '.join(names)}; {how})")
    echo("  every receipt status 1, every sender's token balance as expected: yes")


@click.command("node")
@click.option(
    "--transactions",
    "transactions",
    type=int,
    default=DEFAULT_TRANSACTIONS,
    show_default=True,
    help="Transfers in the timed phase.",
)
@click.option(
    "--senders",
    type=int,
    default=DEFAULT_SENDERS,
    show_default=True,
    help="Accounts sending them (round-robin).",
)
@click.option(
    "--batch",
    type=int,
    default=DEFAULT_BATCH,
    show_default=True,
    help="eth_sendRawTransaction calls per JSON-RPC batch.",
)
@click.option(
    "--connections",
    type=int,
    default=DEFAULT_CONNECTIONS,
    show_default=True,
    help="Concurrent HTTP connections submitting.",
)
@click.option("--skip-hardhat", is_flag=True, help="Run SuperVM only (no ratio).")
@click.option("--skip-evm", is_flag=True, help="Skip the Solidity ERC20 on SuperVM's EVM backend.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def node_command(
    transactions: int,
    senders: int,
    batch: int,
    connections: int,
    skip_hardhat: bool,
    skip_evm: bool,
    as_json: bool,
) -> None:
    """Signed ERC20 transfers over JSON-RPC: supervm node against hardhat node, in one run."""
    try:
        workload = Workload(transactions, senders, batch, connections)
        progress = (lambda _m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True))
        report = run(workload, hardhat=not skip_hardhat, evm=not skip_evm, progress=progress)
    except BenchNodeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        print_report(report, click.echo)


__all__ = [
    "BenchNodeError",
    "NodeReport",
    "Served",
    "SideResult",
    "Split",
    "Workload",
    "batches",
    "cpu_seconds",
    "decode_costs",
    "expected_balances",
    "find_hardhat",
    "parse_samples",
    "node_command",
    "print_report",
    "run",
    "scrape",
    "sender_keys",
    "signed_raw",
    "split_of",
    "verify",
]
