"""The libp2p transport: a py-libp2p host with gossipsub, on its own thread's trio loop.

py-libp2p 0.8.1's defaults do not suit a chain, and this module is where they are changed:

- **Security** is Noise only: by default libp2p also offers TLS, secio and plaintext (which
  encrypts nothing), and the dialling peer chooses.
- **Dialling** is the node's (:mod:`.network`): libp2p's own auto-connector, which dials every
  peer in its peer store toward 50 connections (banned ones too), is turned off.
- **Connecting** waits 250 ms per dial (its happy-eyeballs head start) unless the dial
  reaches ``max_connections_per_peer``: one connection per peer is what the node wants
  anyway, and it makes a dial on loopback take about 15 ms.
- **Gossipsub** rate-limits each peer to 10 messages a second per topic and protects its mesh
  against eclipses by requiring three distinct IP addresses in it: at chain rates the first
  drops transactions, and on a loopback or single-subnet network the second keeps the mesh
  from forming. Both are off; the node scores peers itself (:mod:`.scoring`). Its heartbeat
  runs every second (the default is 120 s, so a mesh lost with a peer took two minutes to
  repair).
- **Queues**: each peer's outbound queue holds 32 messages and messages above 1 MiB are
  dropped; a burst of transactions or one large block then vanished. :class:`_Pubsub` gives
  each peer's queue :data:`OUTBOUND_QUEUE` messages and :data:`MAX_MESSAGE_BYTES`.
- **Publishing** floods a node's own messages to every subscribed peer, not only to the mesh
  (:class:`_GossipSub`), as go-libp2p does.
- **Messages** are identified by the hash of their origin and content (the default is origin
  and sequence number), so a message that reaches a node by several paths, or again under a
  new sequence number, is handled and relayed once.
- **Validation** happens in the node's event loop (the gossip handlers), through an
  asynchronous topic validator; a message is relayed only if its handler says so.
- **Writes** to a peer's gossip stream are one at a time (:meth:`_Pubsub.write_msg`):
  py-libp2p writes from the peer's sending loop and, when the peer subscribes, from replay
  tasks of its own, and a message larger than a yamux frame (64 KiB) or than the stream's send
  window goes out in several frames, so two writers interleaved their frames and the peer read
  garbage.
- **Reading** a peer's gossip stream fails alone (:meth:`_Pubsub.stream_handler`): py-libp2p
  let the protobuf error of an RPC that does not parse escape, and with it the host's nursery,
  so one malformed message (or the interleaving above) stopped the node's whole network.

The subscription channels (32 messages) are drained as they fill: handling happens in the
validator, so nothing is lost there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import logging
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, Final

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from .bridge import BridgeClosed, TrioBridge
from .codec import MAX_MESSAGE_BYTES
from .transport import (
    Connected,
    Disconnected,
    Inbound,
    PeerRecord,
    Transport,
    TransportError,
    wire_id,
)

log = logging.getLogger("supervm.network.libp2p")

#: Messages each peer's outbound gossip queue holds before it drops (libp2p: 32).
OUTBOUND_QUEUE: Final = 4096
#: Gossipsub's mesh degree: peers each topic's messages are pushed to at once.
MESH_DEGREE: Final = 6
#: Seconds between gossipsub heartbeats (mesh upkeep, gossip about recent messages).
HEARTBEAT_SECONDS: Final = 1
#: Seconds a message's validation may take in the node's event loop before it is dropped.
VALIDATION_TIMEOUT: Final = 30.0
#: Seconds a request's stream may stay open on the serving side.
SERVE_TIMEOUT: Final = 30.0
#: Seconds a dial may take.
DIAL_TIMEOUT: Final = 5.0
#: Seconds the trio thread gets to close its connections when the node stops.
STOP_TIMEOUT: Final = 10.0


def content_id(message: rpc_pb2.Message) -> bytes:
    """A gossip message's id: the hash of its origin, topics and content.

    The origin is part of it because a node announces the transactions it admitted in its
    own batches, which may hold exactly what a peer's batch held: pubsub remembers the
    verdict on an id (the peer's batch is never relayed as such), and would drop the node's
    own batch under the same id.
    """
    digest = hashlib.sha256()
    digest.update(message.from_id)
    digest.update(b"\0")
    for topic in message.topicIDs:
        digest.update(topic.encode())
        digest.update(b"\0")
    digest.update(message.data)
    return digest.digest()


class _GossipSub(GossipSub):
    """Gossipsub that floods its own messages to every peer subscribed to the topic, as
    go-libp2p does by default (``floodPublish``): py-libp2p sends them to the topic's mesh
    only, which a new peer joins at the next heartbeat, so what a node published in its first
    second with a peer never reached it."""

    def _get_peers_to_send(
        self,
        topic_ids: Iterable[str],
        msg_forwarder: ID,
        origin: ID,
        msg_id: bytes | None = None,
    ) -> Iterable[ID]:
        topics = list(topic_ids)
        peers = set(super()._get_peers_to_send(topics, msg_forwarder, origin, msg_id))
        pubsub = self.pubsub
        if pubsub is not None and origin == pubsub.my_id:
            for topic in topics:
                peers.update(pubsub.peer_topics.get(topic, ()))
            peers.discard(origin)
        return peers


class _Queues(dict[ID, Any]):
    """Pubsub's per-peer outbound queues, each made roomier as pubsub adds it."""

    def __setitem__(self, peer: ID, queue: Any) -> None:
        # RpcQueue takes its sizes only as constructor arguments, which Pubsub never passes.
        queue.max_message_size = MAX_MESSAGE_BYTES
        queue._queue.max_size = OUTBOUND_QUEUE
        super().__setitem__(peer, queue)


class _Pubsub(Pubsub):
    """Pubsub with outbound queues sized for a chain, writes to a stream one at a time, and a
    stream that does not parse dropped alone (see the module docstring)."""

    def __init__(self, host: IHost, router: _GossipSub) -> None:
        super().__init__(
            host,
            router,
            cache_size=4096,
            msg_id_constructor=content_id,
            validation_timeout=VALIDATION_TIMEOUT,
            validation_cache_size=10_000,
            max_inbound_rpc_size=MAX_MESSAGE_BYTES,
        )
        self.peer_queues = _Queues()
        self._write_locks: weakref.WeakKeyDictionary[INetStream, trio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        """Write ``rpc_msg`` once no other write to ``stream`` is under way."""
        lock = self._write_locks.get(stream)
        if lock is None:
            lock = self._write_locks[stream] = trio.Lock()
        async with lock:
            written: bool = await super().write_msg(stream, rpc_msg)
            return written

    async def stream_handler(self, stream: INetStream) -> None:
        """Read a peer's gossip stream; whatever ends it ends that stream only."""
        peer_id = stream.muxed_conn.peer_id
        try:
            await self.continuously_read_stream(stream)
        except Exception as exc:
            log.debug("gossip stream from %s dropped: %s", peer_id, _describe(exc))
            with contextlib.suppress(Exception):
                await stream.reset()
            self._handle_dead_peer(peer_id)


class _Notifee(INotifee):
    """Reports the first connection to a peer and the loss of its last one."""

    def __init__(self, transport: Libp2pTransport) -> None:
        self.transport = transport
        self.counts: dict[ID, int] = {}

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        count = self.counts[peer] = self.counts.get(peer, 0) + 1
        if count == 1:
            addrs = conn.get_transport_addresses()
            address = str(addrs[0]) if addrs else ""
            inbound = str(getattr(conn, "direction", "")).lower().endswith("inbound")
            self.transport._report_connected(PeerRecord(peer.to_base58(), address, inbound))

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        count = self.counts.get(peer, 0) - 1
        if count <= 0:
            self.counts.pop(peer, None)
            self.transport._report_disconnected(peer.to_base58())
        else:
            self.counts[peer] = count

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


class Libp2pTransport(Transport):
    """A libp2p host on TCP, serving the node's topics and protocols.

    :param seed: the 32-byte seed of the node's Ed25519 key (its peer id derives from it).
    :param host: the IPv4 address to listen on.
    :param port: the TCP port (0: a free one).
    :param chain_id: namespaces every topic and protocol (:func:`~.transport.wire_id`).
    :param topics: the gossip topics to subscribe to.
    :param protocols: the request/response protocols to serve.
    :param inbound: the node's handler of messages and requests (called in its event loop).
    :param connected: told of each new peer (in the event loop).
    :param disconnected: told of each peer gone (in the event loop).
    """

    def __init__(
        self,
        *,
        seed: bytes,
        host: str,
        port: int,
        chain_id: int,
        topics: Sequence[str],
        protocols: Sequence[str],
        inbound: Inbound,
        connected: Connected,
        disconnected: Disconnected,
    ) -> None:
        self._seed = seed
        self._listen = f"/ip4/{host}/tcp/{port}"
        self._chain_id = chain_id
        self._topics = {wire_id(t, chain_id): t for t in topics}
        self._protocols = {wire_id(p, chain_id): p for p in protocols}
        self._wire = {v: k for k, v in {**self._topics, **self._protocols}.items()}
        self._inbound = inbound
        self._connected = connected
        self._disconnected = disconnected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bridge: TrioBridge | None = None
        self._thread: threading.Thread | None = None
        self._host: IHost | None = None
        self._pubsub: Pubsub | None = None
        self._stopping: trio.Event | None = None
        self._peer_id = ""
        self._addresses: list[str] = []
        #: Completed with the trio loop's failure, if it fails after starting.
        self.failure: asyncio.Future[None] | None = None

    # -- Transport ------------------------------------------------------------------------------

    @property
    def local_id(self) -> str:
        return self._peer_id

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    def wire_name(self, protocol_id: str) -> str:
        """The name ``protocol_id`` has on the wire."""
        return self._wire.get(protocol_id) or wire_id(protocol_id, self._chain_id)

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._bridge = TrioBridge(loop)
        self.failure = loop.create_future()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="p2p-trio", daemon=True
        )
        self._thread.start()
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT)
            raise

    async def stop(self) -> None:
        bridge, thread = self._bridge, self._thread
        if bridge is None or thread is None:
            return
        if bridge.attached:
            with contextlib.suppress(BridgeClosed):
                await bridge.to_trio(self._set_stopping)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT)
        if thread.is_alive():
            log.warning("the libp2p thread did not stop within %g s", STOP_TIMEOUT)

    async def publish(self, topic: str, data: bytes) -> None:
        await self._call(self._publish, self.wire_name(topic), data)

    async def request(self, peer_id: str, protocol_id: str, data: bytes, timeout: float) -> bytes:
        result: bytes = await self._call(
            self._request, peer_id, self.wire_name(protocol_id), data, timeout
        )
        return result

    async def connect(self, address: str) -> str:
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as exc:
            raise TransportError(
                f"not a peer address (/ip4/H/tcp/P/p2p/ID): {address}: {exc}"
            ) from None
        result: str = await self._call(self._connect, info)
        return result

    async def disconnect(self, peer_id: str) -> None:
        await self._call(self._disconnect, peer_id)

    async def listen_addresses_of(self, peer_id: str) -> list[str]:
        result: list[str] = await self._call(self._addrs_of, peer_id)
        return result

    # -- the asyncio side -----------------------------------------------------------------------

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._bridge is None:
            raise TransportError("the network has not started")
        try:
            return await self._bridge.to_trio(fn, *args)
        except BridgeClosed as exc:
            raise TransportError(str(exc)) from None

    def _report_connected(self, peer: PeerRecord) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected, peer)

    def _report_disconnected(self, peer_id: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._disconnected, peer_id)

    def _fail(self, exc: BaseException) -> None:
        def settle() -> None:
            if self.failure is not None and not self.failure.done():
                self.failure.set_exception(exc)

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(settle)

    # -- the trio side --------------------------------------------------------------------------

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            trio.run(self._main, ready)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(_as_transport_error(exc))
            else:
                log.error("the libp2p host failed", exc_info=exc)
                self._fail(exc)

    async def _set_stopping(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _main(self, ready: concurrent.futures.Future[None]) -> None:
        assert self._bridge is not None
        self._stopping = trio.Event()
        key_pair = create_new_key_pair(self._seed)
        listen = multiaddr.Multiaddr(self._listen)
        host = self._host = new_host(
            key_pair=key_pair,
            # Noise only: libp2p also offers TLS, secio and a plaintext "security" that
            # encrypts nothing, and a peer picks what it likes from what is offered.
            sec_opt={
                TProtocol(NOISE_PROTOCOL_ID): NoiseTransport(
                    key_pair, noise_privkey=create_new_x25519_key_pair().private_key
                )
            },
            listen_addrs=[listen],
            # No auto-connector: libp2p's dials every peer it ever heard of toward 50
            # connections, redialling peers the node banned; the node dials for itself.
            connection_config=ConnectionConfig(
                max_connections_per_peer=1,
                min_connections=0,
                low_watermark=0,
                dial_timeout=DIAL_TIMEOUT,
            ),
        )
        router = _GossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=MESH_DEGREE,
            degree_low=MESH_DEGREE - 2,
            degree_high=2 * MESH_DEGREE,
            time_to_live=60,
            heartbeat_initial_delay=0.1,
            heartbeat_interval=HEARTBEAT_SECONDS,
            max_messages_per_topic_per_second=float("inf"),
            spam_protection_enabled=False,
            eclipse_protection_enabled=False,
        )
        pubsub = self._pubsub = _Pubsub(host, router)
        notifee = _Notifee(self)
        host.get_network().register_notifee(notifee)
        for wire in self._protocols:
            host.set_stream_handler(TProtocol(wire), functools.partial(self._serve, wire))
        async with trio.open_nursery() as nursery:
            self._bridge.attach(nursery)
            try:
                async with (
                    background_trio_service(pubsub),
                    background_trio_service(router),
                    host.run([listen]),
                ):
                    await pubsub.wait_until_ready()
                    for wire in self._topics:
                        subscription = await pubsub.subscribe(wire)
                        pubsub.set_topic_validator(
                            wire, functools.partial(self._validate, wire), True
                        )
                        nursery.start_soon(_drain, subscription)
                    self._peer_id = host.get_id().to_base58()
                    self._addresses = [
                        f"{_without_p2p(a)}/p2p/{self._peer_id}" for a in host.get_addrs()
                    ]
                    if not self._addresses:
                        raise TransportError(f"libp2p is not listening on {self._listen}")
                    ready.set_result(None)
                    await self._stopping.wait()
            finally:
                self._bridge.detach()
                nursery.cancel_scope.cancel()

    async def _validate(self, wire: str, forwarder: ID, message: rpc_pb2.Message) -> bool:
        host = self._host
        if host is not None and forwarder == host.get_id():
            return True  # our own publication, checked before it was published
        assert self._bridge is not None
        try:
            verdict: bytes | None = await self._bridge.to_asyncio(
                self._inbound(self._topics[wire], forwarder.to_base58(), bytes(message.data))
            )
        except BridgeClosed:
            return False
        except Exception:
            log.exception("the handler of %s failed", wire)
            return False
        return verdict is not None

    async def _serve(self, wire: str, stream: INetStream) -> None:
        assert self._bridge is not None
        peer = stream.muxed_conn.peer_id.to_base58()
        try:
            with trio.fail_after(SERVE_TIMEOUT):
                request = await read_varint_prefixed_bytes_limited(stream, MAX_MESSAGE_BYTES)
                reply: bytes | None = await self._bridge.to_asyncio(
                    self._inbound(self._protocols[wire], peer, request)
                )
                if reply is not None:
                    await stream.write(encode_varint_prefixed(reply))
            await stream.close()
        except Exception as exc:
            log.debug("request on %s from %s failed: %s", wire, peer, exc)
            with contextlib.suppress(Exception):
                await stream.reset()

    async def _publish(self, wire: str, data: bytes) -> None:
        assert self._pubsub is not None
        await self._pubsub.publish(wire, data)

    async def _request(self, peer_id: str, wire: str, data: bytes, timeout: float) -> bytes:
        host = self._host
        assert host is not None
        try:
            with trio.fail_after(timeout):
                stream = await host.new_stream(ID.from_base58(peer_id), [TProtocol(wire)])
                try:
                    await stream.write(encode_varint_prefixed(data))
                    reply = await read_varint_prefixed_bytes_limited(stream, MAX_MESSAGE_BYTES)
                finally:
                    with (
                        trio.CancelScope(shield=True),
                        trio.move_on_after(1),
                        contextlib.suppress(Exception),
                    ):
                        await stream.close()
                return reply
        except trio.TooSlowError:
            raise TransportError(
                f"{wire} request to {peer_id} timed out after {timeout:g} s"
            ) from None
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"{wire} request to {peer_id} failed: {_describe(exc)}") from None

    async def _connect(self, info: Any) -> str:
        host = self._host
        assert host is not None
        if info.peer_id == host.get_id():
            raise TransportError("that address is this node's own")
        try:
            with trio.fail_after(DIAL_TIMEOUT + 1):
                await host.connect(info)
        except trio.TooSlowError:
            raise TransportError(f"dialling {info.peer_id} timed out") from None
        except Exception as exc:
            raise TransportError(f"dialling {info.peer_id} failed: {_describe(exc)}") from None
        peer_id: str = info.peer_id.to_base58()
        return peer_id

    async def _disconnect(self, peer_id: str) -> None:
        host = self._host
        assert host is not None
        try:
            await host.disconnect(ID.from_base58(peer_id))
        except Exception as exc:
            log.debug("disconnecting %s: %s", peer_id, exc)

    async def _addrs_of(self, peer_id: str) -> list[str]:
        host = self._host
        assert host is not None
        try:
            addrs = host.get_peerstore().addrs(ID.from_base58(peer_id))
        except Exception:
            return []
        out = []
        for addr in addrs:
            text = _without_p2p(addr)
            if "/tcp/" in text and "/ip4/" in text:
                out.append(f"{text}/p2p/{peer_id}")
        return out


async def _drain(subscription: Any) -> None:
    """Empty a subscription's channel: the validator has handled its messages already."""
    while True:
        await subscription.get()


def _without_p2p(addr: multiaddr.Multiaddr) -> str:
    text = str(addr)
    index = text.find("/p2p/")
    return text if index < 0 else text[:index]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _as_transport_error(exc: BaseException) -> BaseException:
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = exc.exceptions
        if len(leaves) == 1:
            return _as_transport_error(leaves[0])
    return TransportError(f"the libp2p host failed to start: {_describe(exc)}")
