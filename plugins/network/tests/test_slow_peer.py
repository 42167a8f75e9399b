"""A slow peer: one that claims a head far ahead, then answers no range request in time, and
reads none of the gossip sent to it.

The honest nodes must not wait for it: they keep producing and agree on the head and state root;
a node syncing from genesis times out on it, charges it the timeout offence, completes its sync
from an honest peer and does not go back to the slow one at its next status; and every node's
JSON-RPC answers promptly throughout (nothing blocks an event loop).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import threading
import time
import types
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11
from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited
from supervm.chain.dev_accounts import DevAccount, dev_account
from supervm.chain.transactions import UnsignedTransaction, encode_transaction, sign_transaction
from supervm_network import codec
from supervm_network.codec import Kind, Status
from supervm_network.libp2p_transport import Libp2pTransport
from supervm_network.scoring import Offence
from supervm_network.sync import FIRST_REST, STATUS_INTERVAL, Syncer
from supervm_network.transport import (
    BLOCKS_TOPIC,
    SYNC_PROTOCOL,
    TX_TOPIC,
    PeerRecord,
    TransportError,
)

pytestmark = pytest.mark.slow

T = TypeVar("T")

#: How far ahead of the real head the slow peer claims to be.
CLAIMED_LEAD: Final = 1000
#: Seconds the slow peer takes to answer a range request: far longer than anyone waits.
ANSWER_AFTER: Final = 3600.0
#: The syncing node's request timeout in this test (the default is for real networks).
SYNC_TIMEOUT: Final = 1.5
#: The slowest JSON-RPC answer allowed while all this goes on.
PROMPT: Final = 1.0
#: Calldata of the bulky transactions: a few of them fill a gossip stream's 256 KiB window.
BULK: Final = b"\x01" * 90_000


class SlowPeer:
    """A raw libp2p host on a thread of its own: it answers status at once, claiming a head
    :data:`CLAIMED_LEAD` blocks ahead, answers headers and blocks after
    :data:`ANSWER_AFTER` seconds, and reads nothing of the gossip streams peers open to it.

    :param genesis_hash: the chain's genesis, so that nodes take it as one of theirs.
    :param head: reads the real head's number, to claim a lead over it.
    """

    def __init__(self, genesis_hash: bytes, head: Any) -> None:
        self.genesis_hash = genesis_hash
        self.head = head
        self.requests: collections.Counter[tuple[str, Kind]] = collections.Counter()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.transport = Libp2pTransport(
            seed=os.urandom(32),
            host="127.0.0.1",
            port=0,
            chain_id=31337,
            topics=[TX_TOPIC, BLOCKS_TOPIC],
            protocols=[SYNC_PROTOCOL],
            inbound=self._inbound,
            connected=self._ignore,
            disconnected=self._ignore,
        )
        self.run(self.transport.start())
        # The pubsub stream handler reads each peer's gossip stream through this method: the
        # senders' gossip to it piles up (in its yamux buffers and their stream windows).
        pubsub = self.transport._pubsub
        assert pubsub is not None
        pubsub.continuously_read_stream = self._read_nothing  # type: ignore[method-assign]

    @property
    def peer_id(self) -> str:
        return self.transport.local_id

    def asked(self, kind: Kind, by: str | None = None) -> int:
        """How many ``kind`` requests it got (from ``by``, or from anyone)."""
        return sum(n for (peer, k), n in self.requests.items() if k is kind and by in (None, peer))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def connect(self, address: str) -> None:
        self.run(self.transport.connect(address))

    def stop(self) -> None:
        try:
            self.run(self.transport.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    @staticmethod
    def _ignore(_: PeerRecord | str) -> None:
        pass

    async def _inbound(self, protocol: str, peer: str, payload: bytes) -> bytes | None:
        if protocol != SYNC_PROTOCOL:
            return None  # gossip: taken, never relayed
        request = codec.decode_request(payload)
        self.requests[peer, request.kind] += 1
        if request.kind is Kind.STATUS:
            number = self.head() + CLAIMED_LEAD
            return codec.encode_status(Status(31337, self.genesis_hash, number, b"\x5a" * 32))
        await asyncio.sleep(ANSWER_AFTER)
        return codec.encode_headers([])

    @staticmethod
    async def _read_nothing(stream: INetStream) -> None:
        await trio.sleep_forever()


class Probe(threading.Thread):
    """Calls ``eth_blockNumber`` on every node it is given, back to back, and keeps each node's
    slowest answer."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.nodes: dict[str, Any] = {}
        self.slowest: dict[str, float] = collections.defaultdict(float)
        self.calls = 0
        self.failures: list[str] = []
        self._done = threading.Event()

    def watch(self, name: str, node: Any) -> None:
        self.nodes = {**self.nodes, name: node}

    def run(self) -> None:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        while not self._done.is_set():
            for name, node in self.nodes.items():
                started = time.perf_counter()
                # Its own requests: NodeThread.call counts ids, which two threads would race on.
                status, _headers, raw = node.thread.post(body)
                elapsed = time.perf_counter() - started
                self.slowest[name] = max(self.slowest[name], elapsed)
                self.calls += 1
                if status != 200 or "result" not in json.loads(raw):
                    self.failures.append(f"{name}: {status} {raw[:200]!r}")
            time.sleep(0.05)

    def finish(self) -> None:
        self._done.set()
        self.join(10)


def signed(sender: DevAccount, nonce: int, data: bytes = b"") -> str:
    tx = sign_transaction(
        UnsignedTransaction(
            type=2,
            chain_id=31337,
            nonce=nonce,
            max_priority_fee_per_gas=10**9,
            max_fee_per_gas=10**11,
            gas=21_000 + 16 * len(data),
            to=dev_account(9).address,
            value=1,
            data=data,
        ),
        sender.private_key,
    )
    return "0x" + encode_transaction(tx).hex()


def timeouts(node: Any) -> float:
    labels = {"offence": Offence.TIMEOUT.value}
    value = node.thread.host.metrics.value("p2p_invalid_messages_total", labels)
    return float(value)


def test_a_slow_peer_is_timed_out_and_the_sync_completes_from_an_honest_one(
    loopback: Any,
) -> None:
    wait_for = loopback.wait_for
    validator = loopback.start("validator", validator=True)
    follower = loopback.start("follower", bootnodes=(validator.p2p,))
    history = dev_account(1)
    for nonce in range(12):
        validator.call("eth_sendRawTransaction", signed(history, nonce))
    wait_for("some history", lambda: int(validator.call("eth_getTransactionCount",
             "0x" + history.address.hex(), "latest"), 16) == 12)  # fmt: skip
    wait_for("the follower's copy", lambda: follower.head() == validator.head())

    probe = Probe()
    probe.watch("validator", validator)
    probe.watch("follower", follower)
    probe.start()
    genesis_hash = validator.network.status().genesis_hash
    slow = SlowPeer(genesis_hash, lambda: validator.head()[0])
    stop = threading.Event()
    sent: list[str] = []
    errors: list[BaseException] = []

    def keep_sending() -> None:
        # Transfers and, every fifth, a bulky one: megabytes of gossip pile up toward the
        # slow peer.
        sender = dev_account(2)
        try:
            for nonce in range(200):
                if stop.is_set():
                    return
                data = BULK if nonce % 5 == 4 else b""
                sent.append(validator.call("eth_sendRawTransaction", signed(sender, nonce, data)))
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    sender_thread = threading.Thread(target=keep_sending, daemon=True)
    try:
        slow.connect(validator.p2p)
        slow.connect(follower.p2p)
        sender_thread.start()
        wait_for("the honest nodes to hear the slow peer's status",
                 lambda: slow.asked(Kind.STATUS) >= 2)  # fmt: skip

        # A node joining from genesis meets the slow peer first: it claims the highest head.
        late = loopback.start("late")
        probe.watch("late", late)

        async def shorten() -> None:
            assert late.network.syncer is not None
            late.network.syncer.request_timeout = SYNC_TIMEOUT

        late.thread.run(shorten())
        late.call("admin_addPeer", slow.transport.addresses[0])
        syncer = late.network.syncer
        assert syncer is not None
        wait_for("the slow peer's claim", lambda: slow.peer_id in syncer.heads)
        late.call("admin_addPeer", follower.p2p)
        wait_for("the late node's timeout on the slow peer", lambda: timeouts(late) >= 1, 10)
        scores = late.network.scores
        assert scores.offences(slow.peer_id) >= 1
        assert scores.score(slow.peer_id) < 0
        wait_for("the late node's catch-up",
                 lambda: late.head()[0] >= validator.head()[0] - 2, 30)  # fmt: skip
        late_id = late.network.transport.local_id
        assert slow.asked(Kind.GET_HEADERS, by=late_id) >= 1

        # The honest nodes kept producing and relaying through it all.
        stop.set()
        sender_thread.join(10)
        assert not errors, errors
        assert len(sent) >= 20
        wait_for("every transfer sealed", lambda: validator.call(
            "eth_getTransactionReceipt", sent[-1]) is not None)  # fmt: skip
        for node in (follower, late):
            wait_for("one head and state root", lambda node=node: node.head() == validator.head())
        for tx_hash in sent[::7] + sent[-1:]:
            receipt = late.call("eth_getTransactionReceipt", tx_hash)
            assert receipt is not None and receipt["status"] == "0x1", tx_hash
        wait_for("the sync's end", lambda: late.call("eth_syncing") is False)

        # The slow peer's next status claims the same lead: the node does not sync from it
        # again (it rests), and charged nothing to the honest peers.
        asked = slow.asked(Kind.GET_HEADERS, by=late_id)
        polled = slow.asked(Kind.STATUS, by=late_id)
        time.sleep(STATUS_INTERVAL + SYNC_TIMEOUT + 0.5)
        assert slow.asked(Kind.GET_HEADERS, by=late_id) == asked
        assert slow.asked(Kind.STATUS, by=late_id) > polled  # it did hear the claim again
        assert late.call("eth_syncing") is False
        for honest in (validator, follower):
            assert scores.offences(honest.network.transport.local_id) == 0
        assert late.head()[0] >= validator.head()[0] - 1
    finally:
        stop.set()
        probe.finish()
        slow.stop()
    assert probe.calls > 50 and not probe.failures, probe.failures
    assert max(probe.slowest.values()) < PROMPT, dict(probe.slowest)


def _transport(inbound: Any, protocols: list[str]) -> Libp2pTransport:
    return Libp2pTransport(
        seed=os.urandom(32),
        host="127.0.0.1",
        port=0,
        chain_id=31337,
        topics=[TX_TOPIC, BLOCKS_TOPIC],
        protocols=protocols,
        inbound=inbound,
        connected=SlowPeer._ignore,
        disconnected=SlowPeer._ignore,
    )


def test_gossip_streams_take_concurrent_writes_and_garbage_alone() -> None:
    """What the slow peer showed: py-libp2p writes a peer's gossip stream from several tasks,
    whose frames interleaved once messages outgrew a frame or the send window (the reader got
    RPCs that do not parse); and an RPC that does not parse stopped the reader's whole host.
    Writes now go one at a time, and a stream that does not parse is dropped alone."""

    async def answer(protocol: str, peer: str, payload: bytes) -> bytes | None:
        return b"pong" if protocol == SYNC_PROTOCOL else None

    big: list[int] = []

    async def parse_every_rpc(stream: INetStream) -> None:
        while True:
            raw = await read_varint_prefixed_bytes_limited(stream, codec.MAX_MESSAGE_BYTES)
            rpc = rpc_pb2.RPC()
            rpc.ParseFromString(raw)  # an interleaved or garbage RPC raises here
            for message in rpc.publish:
                if len(message.data) > 100_000:
                    assert len(set(message.data)) == 1  # one writer's bytes only
                    big.append(message.data[0])

    async def write_at_once(pubsub: Any, stream: INetStream, rpcs: list[Any]) -> None:
        async with trio.open_nursery() as nursery:
            for rpc in rpcs:
                nursery.start_soon(pubsub.write_msg, stream, rpc)

    async def write_garbage(host: Any, peer: Any) -> None:
        stream = await host.new_stream(peer, [TProtocol(PROTOCOL_ID_V11)])
        await stream.write(encode_varint_prefixed(b"\x0a\x05ab"))  # a field cut short

    async def main() -> None:
        reader = _transport(answer, [SYNC_PROTOCOL])
        writer = _transport(answer, [])
        await reader.start()
        await writer.start()
        try:
            pubsub = reader._pubsub
            assert pubsub is not None
            pubsub.continuously_read_stream = parse_every_rpc  # type: ignore[method-assign]
            await writer.connect(reader.addresses[0])
            reader_id = ID.from_base58(reader.local_id)
            sender = writer._pubsub
            assert sender is not None and writer._host is not None
            for _ in range(100):
                if reader_id in sender.peers:
                    break
                await asyncio.sleep(0.05)
            stream = sender.peers[reader_id]
            rpcs = [
                rpc_pb2.RPC(publish=[rpc_pb2.Message(data=bytes([i]) * 200_000, topicIDs=["x"])])
                for i in range(1, 9)
            ]
            await writer._call(write_at_once, sender, stream, rpcs)
            for _ in range(200):
                if len(big) == len(rpcs):
                    break
                await asyncio.sleep(0.05)
            assert sorted(big) == list(range(1, 9))

            await writer._call(write_garbage, writer._host, reader_id)
            await asyncio.sleep(0.5)
            assert reader.failure is not None and not reader.failure.done()
            assert await writer.request(reader.local_id, SYNC_PROTOCOL, b"ping", 5) == b"pong"
        finally:
            await writer.stop()
            await reader.stop()

    asyncio.run(main())


class _Network:
    """What the syncer uses of a Network: peers, requests, statuses, tasks and metrics. The
    peer ``slow`` answers nothing: each request waits its whole timeout."""

    def __init__(self) -> None:
        self.peers = {"slow": None, "fast": None}
        self.asked: list[str] = []
        self.noted: list[str] = []
        self.on_status: Any = None
        self.metrics = types.SimpleNamespace(set=lambda *args, **kwargs: None)
        self.context = types.SimpleNamespace(spawn=self._spawn)
        self._tasks: list[asyncio.Task[None]] = []

    def _spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> None:
        self._tasks.append(asyncio.ensure_future(coroutine))

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout: float) -> bytes:
        self.asked.append(peer_id)
        if peer_id == "slow":
            await asyncio.sleep(timeout)
            raise TransportError(f"request to {peer_id} timed out after {timeout:g} s")
        return codec.encode_status(Status(31337, bytes(32), 5, bytes(32)))

    def note_status(self, peer_id: str, status: Status) -> None:
        self.noted.append(peer_id)


def _syncer(network: _Network, **options: Any) -> Syncer:
    node = types.SimpleNamespace(head=types.SimpleNamespace(number=0, hash=bytes(32)))
    return Syncer(network, node, None, **options)  # type: ignore[arg-type]


def test_a_peer_that_does_not_answer_its_status_holds_up_no_other() -> None:
    async def main() -> None:
        network = _Network()
        syncer = _syncer(network, status_timeout=30.0)
        syncer.poll_all()
        await asyncio.sleep(0.05)
        assert network.noted == ["fast"]
        syncer.poll_all()  # the slow peer's first poll is still out: it is not asked again
        await asyncio.sleep(0.05)
        assert network.noted == ["fast", "fast"]
        assert network.asked.count("slow") == 1
        for task in network._tasks:
            task.cancel()

    asyncio.run(main())


def test_a_peer_a_sync_failed_on_rests_and_its_claim_is_not_believed() -> None:
    now = [1000.0]

    async def main() -> None:
        network = _Network()
        syncer = _syncer(network, request_timeout=0.01, clock=lambda: now[0])
        syncer.note_head("slow", 500)
        assert syncer.progress.highest_block == 500
        await syncer.sync()
        assert network.asked == ["slow"] and syncer.resting("slow")
        # Its next status claims the same: no sync, and it is not the highest head.
        syncer.progress.highest_block = 0
        syncer.note_head("slow", 500)
        await syncer.sync()
        assert network.asked == ["slow"] and syncer.progress.highest_block == 0
        now[0] += FIRST_REST
        assert not syncer.resting("slow")
        await syncer.sync()  # it fails again: twice as long a rest
        assert network.asked == ["slow", "slow"]
        now[0] += FIRST_REST
        assert syncer.resting("slow")
        now[0] += FIRST_REST
        assert not syncer.resting("slow")

    asyncio.run(main())
