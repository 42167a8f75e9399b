"""The node's side of the network: peers, scores, dispatch of what arrives, and discovery.

A :class:`Network` is what the ``network`` service builds when it starts and stores in the
stash under :data:`NETWORK`; the protocol handlers (:mod:`.gossip`, :mod:`.sync`) and the
``admin_*`` methods find it there. It knows the transport only through
:class:`~supervm_network.transport.Transport`.

What arrives goes to the handler registered for its protocol id with
``supervm_register_p2p_handlers``. A handler raises :class:`InvalidMessage` for data no honest
node sends; the sender is then charged the offence (:mod:`.scoring`), and a banned peer is
disconnected, its connections refused and its messages dropped.

Discovery: the node dials its bootnodes and the peers it learns of (``admin_addPeer``, peer
exchange: every :data:`EXCHANGE_INTERVAL` seconds while below its target, it asks its peers for
theirs) until it has ``max_peers``; a dial that fails is retried after a backoff that doubles up
to :data:`MAX_BACKOFF`, and a peer that went away is redialled the same way. Each new peer is
asked for its status; a peer of another chain (chain id or genesis) is dropped and not dialled
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs
from supervm.errors import SuperVMError
from supervm.node.access import NodeChain
from supervm.node.peers import SyncProgress
from supervm.plugins.registry import P2PHandlerRegistry
from supervm.services.metrics import Metrics
from supervm.services.p2p import PeerMessage, deliver
from supervm.services.service import ServiceContext, StashKey

from . import codec
from .codec import Kind, MessageError, RemoteError, Status
from .scoring import Offence, PeerScores
from .transport import PEERS_PROTOCOL, SYNC_PROTOCOL, PeerRecord, Transport, TransportError

if TYPE_CHECKING:
    from .gossip import Gossip
    from .sync import Syncer

log = logging.getLogger("supervm.network")

#: Seconds between rounds of dialling toward the target peer count.
DIAL_INTERVAL: Final = 1.0
#: Seconds between rounds of peer exchange while below the target.
EXCHANGE_INTERVAL: Final = 5.0
#: The first retry of a failed dial waits this long; each failure doubles it.
FIRST_BACKOFF: Final = 1.0
#: The longest wait between dials of one peer.
MAX_BACKOFF: Final = 30.0
#: Seconds a status request may take.
STATUS_TIMEOUT: Final = 5.0


class InvalidMessage(SuperVMError):
    """Raised by a handler: the message is one no honest node sends.

    :param offence: what it costs the sender.
    :param reason: what is wrong with it.
    """

    def __init__(self, offence: Offence, reason: str) -> None:
        super().__init__(reason)
        self.offence = offence
        self.reason = reason


@attrs.define
class Peer:
    """A connected peer.

    :param record: how the transport sees it.
    :param connected_at: when it connected (``time.time()``).
    :param status: its chain's status, once it answered.
    """

    record: PeerRecord
    connected_at: float
    status: Status | None = None


@attrs.define
class KnownPeer:
    """A peer the node may dial: a bootnode, one added by RPC, or one learnt from a peer.

    :param address: its multiaddr, ``/p2p/ID`` included.
    :param static: a bootnode or ``admin_addPeer``'s: always redialled.
    """

    address: str
    static: bool = False
    failures: int = 0
    next_attempt: float = 0.0
    incompatible: bool = False


def peer_id_of(address: str) -> str:
    """The peer id at the end of a multiaddr (``.../p2p/ID``).

    :raises ValueError: if it has none.
    """
    head, sep, peer = address.rpartition("/p2p/")
    if not sep or not peer or "/" in peer or not head:
        raise ValueError(
            f"{address!r} is not a peer address: expected /ip4/HOST/tcp/PORT/p2p/PEER_ID"
        )
    return peer


class Network:
    """Peers, scores and dispatch for one node; see the module docstring.

    :param context: the ``network`` service's context (kernel, stash, metrics).
    :param node: the node's chain.
    :param handlers: the p2p handlers the enabled plugins registered.
    :param max_peers: the most peers to keep, and the count to dial toward.
    :param scores: peer scores and bans.
    """

    def __init__(
        self,
        context: ServiceContext,
        node: NodeChain,
        handlers: P2PHandlerRegistry,
        *,
        max_peers: int,
        scores: PeerScores | None = None,
    ) -> None:
        self.context = context
        self.node = node
        self.handlers = handlers
        self.max_peers = max_peers
        self.scores = scores or PeerScores()
        self.metrics: Metrics = context.metrics
        self.transport: Transport | None = None
        #: The gossip and the sync, set by the service once built.
        self.gossip: Gossip | None = None
        self.syncer: Syncer | None = None
        self.peers: dict[str, Peer] = {}
        self.known: dict[str, KnownPeer] = {}
        self._wake_dialer = asyncio.Event()
        #: Called with ``(peer_id, status)`` when a peer's status is learnt (the sync).
        self.on_status: Callable[[str, Status], None] = lambda peer, status: None

    # -- identity -------------------------------------------------------------------------------

    def peer_count(self) -> int:
        """How many peers are connected (``net_peerCount``)."""
        return len(self.peers)

    def sync_progress(self) -> SyncProgress | None:
        """The running sync's progress (``eth_syncing``), ``None`` when not syncing."""
        progress = None if self.syncer is None else self.syncer.progress
        if progress is None or not progress.syncing:
            return None
        return SyncProgress(progress.starting_block, progress.highest_block)

    def status(self) -> Status:
        """This node's status."""
        head = self.node.head
        genesis = self.node.store.genesis_hash() or bytes(32)
        return Status(self.node.chain_id, genesis, head.number, head.hash)

    # -- dispatch -------------------------------------------------------------------------------

    async def inbound(self, protocol_id: str, peer_id: str, payload: bytes) -> bytes | None:
        """What the transport calls with a message or request; see the module docstring."""
        if self.scores.is_banned(peer_id):
            return None
        handler = self.handlers.find(protocol_id)
        if handler is None:
            return None
        self.metrics.inc("p2p_ingress", len(payload))
        self.metrics.inc("p2p_messages_in_total", labels={"protocol": protocol_id})
        try:
            reply = await deliver(handler, PeerMessage(protocol_id, peer_id, payload), self.context)
        except InvalidMessage as exc:
            await self.penalise(peer_id, exc.offence, exc.reason)
            return None
        except Exception:
            log.exception("the handler of %s failed on a message from %s", protocol_id, peer_id)
            return None
        if reply:
            self.metrics.inc("p2p_egress", len(reply))
        return reply

    async def penalise(self, peer_id: str, offence: Offence, reason: str) -> None:
        """Charge ``offence`` to ``peer_id``; disconnect it if that bans it."""
        self.metrics.inc("p2p_invalid_messages_total", labels={"offence": offence.name.lower()})
        banned = self.scores.penalise(peer_id, offence)
        log.warning(
            "peer %s: %s (%s, score %.0f%s)",
            peer_id,
            reason,
            offence.name.lower(),
            self.scores.score(peer_id),
            ", banned" if banned else "",
            extra={
                "fields": {
                    "event": "peer_penalised",
                    "peer": peer_id,
                    "offence": offence.name.lower(),
                    "reason": reason,
                    "banned": banned,
                }
            },
        )
        if banned:
            self.metrics.inc("p2p_peer_bans_total")
            await self.drop(peer_id)

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic``; a transport failure is logged, not raised."""
        if self.transport is None:
            return
        try:
            await self.transport.publish(topic, data)
        except TransportError as exc:
            log.debug("publishing on %s failed: %s", topic, exc)
            return
        self.metrics.inc("p2p_egress", len(data))
        self.metrics.inc("p2p_messages_out_total", labels={"protocol": topic})

    async def request(self, peer_id: str, protocol_id: str, data: bytes, timeout: float) -> bytes:
        """A request to a peer; a timeout is charged to it.

        :raises TransportError: if it fails.
        """
        if self.transport is None:
            raise TransportError("the network is not running")
        self.metrics.inc("p2p_messages_out_total", labels={"protocol": protocol_id})
        self.metrics.inc("p2p_egress", len(data))
        try:
            reply = await self.transport.request(peer_id, protocol_id, data, timeout)
        except TransportError as exc:
            if "timed out" in str(exc):
                await self.penalise(peer_id, Offence.TIMEOUT, str(exc))
            raise
        self.metrics.inc("p2p_ingress", len(reply))
        return reply

    # -- peers ----------------------------------------------------------------------------------

    def connected(self, record: PeerRecord) -> None:
        """The transport connected ``record`` (in the event loop)."""
        peer_id = record.peer_id
        if self.scores.is_banned(peer_id) or (
            peer_id not in self.peers and len(self.peers) >= self.max_peers
        ):
            self.context.spawn(self.drop(peer_id), name=f"network-drop-{peer_id[-6:]}")
            return
        self.peers[peer_id] = Peer(record, time.time())
        self.metrics.inc("p2p_serves" if record.inbound else "p2p_dials_success")
        self._record_peers()
        known = self.known.get(peer_id)
        if known is not None:
            known.failures = 0
        log.info(
            "peer %s connected (%s, %s)",
            peer_id,
            record.address,
            "inbound" if record.inbound else "outbound",
            extra={"fields": {"event": "peer_connected", "peer": peer_id}},
        )
        self.context.spawn(self._handshake(peer_id), name=f"network-status-{peer_id[-6:]}")

    def disconnected(self, peer_id: str) -> None:
        """The transport lost ``peer_id`` (in the event loop)."""
        if self.peers.pop(peer_id, None) is None:
            return
        self._record_peers()
        known = self.known.get(peer_id)
        if known is not None:
            known.next_attempt = time.monotonic() + FIRST_BACKOFF
        log.info(
            "peer %s disconnected",
            peer_id,
            extra={"fields": {"event": "peer_disconnected", "peer": peer_id}},
        )
        self._wake_dialer.set()

    async def drop(self, peer_id: str) -> None:
        """Disconnect ``peer_id``."""
        self.peers.pop(peer_id, None)
        self._record_peers()
        if self.transport is not None:
            try:
                await self.transport.disconnect(peer_id)
            except TransportError as exc:
                log.debug("disconnecting %s: %s", peer_id, exc)

    def _record_peers(self) -> None:
        self.metrics.set("p2p_peers", len(self.peers))

    async def _handshake(self, peer_id: str) -> None:
        try:
            raw = await self.request(
                peer_id, SYNC_PROTOCOL, codec.encode_request(Kind.STATUS), STATUS_TIMEOUT
            )
            status = codec.decode_status(raw)
        except TransportError as exc:
            log.debug("no status from %s: %s", peer_id, exc)
            return
        except RemoteError as exc:
            log.debug("%s refused its status: %s", peer_id, exc)
            return
        except MessageError as exc:
            await self.penalise(peer_id, Offence.GARBAGE, f"status: {exc}")
            return
        self.note_status(peer_id, status)

    def note_status(self, peer_id: str, status: Status) -> None:
        """Record ``peer_id``'s status; drop it if its chain is not ours."""
        ours = self.status()
        if status.chain_id != ours.chain_id or status.genesis_hash != ours.genesis_hash:
            log.warning(
                "peer %s is on another chain (chain id %d, genesis 0x%s): dropped",
                peer_id,
                status.chain_id,
                status.genesis_hash.hex(),
            )
            known = self.known.get(peer_id)
            if known is not None:
                known.incompatible = True
            self.context.spawn(self.drop(peer_id), name=f"network-drop-{peer_id[-6:]}")
            return
        peer = self.peers.get(peer_id)
        if peer is not None:
            peer.status = status
        self.on_status(peer_id, status)

    # -- discovery ------------------------------------------------------------------------------

    def add_known(self, address: str, *, static: bool = False) -> str:
        """Remember ``address`` as a peer to dial; return its peer id.

        :raises ValueError: if it is not a peer address.
        """
        peer_id = peer_id_of(address)
        if self.transport is not None and peer_id == self.transport.local_id:
            return peer_id
        known = self.known.get(peer_id)
        if known is None:
            self.known[peer_id] = KnownPeer(address, static)
        else:
            known.address = address
            known.static = known.static or static
            if static:
                known.next_attempt = 0.0
                known.incompatible = False
        self._wake_dialer.set()
        return peer_id

    async def dial_loop(self) -> None:
        """Dial known peers toward the target count, with backoff, for as long as it runs."""
        while True:
            await self._dial_round()
            self._wake_dialer.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_dialer.wait(), DIAL_INTERVAL)

    async def _dial_round(self) -> None:
        now = time.monotonic()
        candidates = [
            (peer_id, known)
            for peer_id, known in self.known.items()
            if peer_id not in self.peers
            and not known.incompatible
            and known.next_attempt <= now
            and not self.scores.is_banned(peer_id)
        ]
        room = self.max_peers - len(self.peers)
        if room <= 0 or not candidates:
            return
        candidates.sort(key=lambda item: (not item[1].static, item[1].failures))
        await asyncio.gather(*(self._dial(p, k) for p, k in candidates[:room]))

    async def _dial(self, peer_id: str, known: KnownPeer) -> None:
        if self.transport is None:
            return
        self.metrics.inc("p2p_dials")
        try:
            await self.transport.connect(known.address)
        except TransportError as exc:
            known.failures += 1
            backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (known.failures - 1))
            known.next_attempt = time.monotonic() + backoff
            log.debug("dialling %s failed (%s); next try in %.0f s", peer_id, exc, backoff)
            if not known.static and known.failures >= 8:
                del self.known[peer_id]  # a learnt address that keeps failing is forgotten
            return
        known.failures = 0

    async def exchange_loop(self) -> None:
        """Ask peers for their peers while below the target, every few seconds."""
        while True:
            await asyncio.sleep(EXCHANGE_INTERVAL)
            if len(self.peers) >= self.max_peers:
                continue
            await asyncio.gather(*(self._exchange(p) for p in list(self.peers)))

    async def _exchange(self, peer_id: str) -> None:
        try:
            raw = await self.request(
                peer_id, PEERS_PROTOCOL, codec.encode_request(Kind.GET_PEERS), STATUS_TIMEOUT
            )
            addresses = codec.decode_peers(raw)
        except (TransportError, RemoteError):
            return
        except MessageError as exc:
            await self.penalise(peer_id, Offence.GARBAGE, f"peer list: {exc}")
            return
        for address in addresses:
            try:
                self.add_known(address)
            except ValueError:
                await self.penalise(peer_id, Offence.BAD_ANSWER, f"bad peer address {address!r}")
                return

    async def peer_addresses(self, excluding: str) -> list[str]:
        """The listen addresses of the connected peers (one each), for peer exchange."""
        if self.transport is None:
            return []
        out: list[str] = []
        for peer_id in list(self.peers):
            if peer_id == excluding:
                continue
            try:
                addresses = await self.transport.listen_addresses_of(peer_id)
            except TransportError:
                continue
            if addresses:
                out.append(addresses[0])
        return out[: codec.MAX_PEER_ADDRS]


#: Where the ``network`` service keeps its :class:`Network` for handlers and RPC methods.
NETWORK: Final = StashKey[Network]("network")
