"""Sync: serving headers and blocks by number, and catching up with the best peer.

**Serving** (``/supervm/sync/1``): ``STATUS``, and ``GET_HEADERS`` / ``GET_BLOCKS`` for a range
of canonical numbers, at most :data:`~.codec.MAX_RANGE` and about
:data:`~.codec.SOFT_RESPONSE_BYTES` an answer.

**Catching up.** The node learns its peers' heads from their status (asked on connect and every
:data:`STATUS_INTERVAL` seconds) and from blocks gossiped ahead of its head. While a peer's head
is above its own it syncs from the highest such peer, a window at a time:

1. ``GET_HEADERS`` from the block after its head: the headers must be consecutive, link to the
   head (or, on a chain that takes side chains, to any stored block: the window moves down
   until they do) and each seal must check out against the one before
   (:meth:`~supervm.chain.consensus.ConsensusEngine.verify_seal`, history read through the
   window itself);
2. ``GET_BLOCKS`` for the same numbers: each block's header must be the header checked;
3. the blocks go through the chain core's importer (:class:`~.importer.BlockImporter`), which
   re-executes each and checks its roots.

A peer whose answers do not decode, do not link, carry bad seals or fail to import is charged
for it and another peer is tried; one that does not answer in time (:attr:`Syncer.request_timeout`)
too. A peer a sync failed on **rests**: it is not synced from again for :data:`FIRST_REST`
seconds, doubling at each further failure up to :data:`MAX_REST`, and its claimed head does
not count as the highest; a window imported from it ends the rest. Without that, a peer that
claims a head far ahead and then stalls would hold every sync up by a timeout at each of its
status answers. The sync asks the peer again for its status after each window, so a node
joining a network that keeps producing blocks catches up and then follows by gossip. A node
that was offline catches up the same way. Progress (the head it started from, the highest head
seen) is what ``eth_syncing`` reports.

Status polls run per peer, each bounded by :attr:`Syncer.status_timeout`, and a peer whose poll
is still out is not asked again: a peer that never answers holds up nobody else's status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final, NoReturn

import attrs
from supervm.chain.blocks import BlockHeader, decode_block, encode_header
from supervm.errors import SuperVMError
from supervm.node.access import NodeChain

from . import codec
from .codec import Kind, MessageError, RemoteError, Request, Status
from .importer import BlockImporter, takes_side_chains
from .network import STATUS_TIMEOUT, InvalidMessage, Network
from .scoring import Offence
from .transport import SYNC_PROTOCOL, TransportError

log = logging.getLogger("supervm.network.sync")

#: Seconds between status requests to every peer.
STATUS_INTERVAL: Final = 5.0
#: Seconds a range request may take.
REQUEST_TIMEOUT: Final = 20.0
#: Seconds a peer that failed a sync is not synced from again (doubling at each failure).
FIRST_REST: Final = 30.0
#: The longest rest (a ban's length).
MAX_REST: Final = 600.0
#: Blocks asked for in one window.
WINDOW: Final = 64


@attrs.define
class Progress:
    """Where a sync stands (``eth_syncing``'s fields).

    :param syncing: whether a sync is running.
    :param starting_block: the head when it started.
    :param highest_block: the highest head a peer has.
    """

    syncing: bool = False
    starting_block: int = 0
    highest_block: int = 0


class _Window:
    """The stored headers and a window of fetched ones, for seal checks that read history."""

    def __init__(self, node: NodeChain, headers: Sequence[BlockHeader]) -> None:
        self._store = node.store
        self._fetched = {h.hash: h for h in headers}

    def header(self, block_hash: bytes) -> BlockHeader | None:
        return self._fetched.get(block_hash) or self._store.header(block_hash)


class SyncError(SuperVMError):
    """A window could not be synced from a peer (it was charged if it was its fault)."""


class Syncer:
    """Serves sync requests and catches the node up; see the module docstring.

    :param network: peers, scores and requests.
    :param node: the chain.
    :param importer: imports fetched blocks.
    :param request_timeout: seconds a headers or blocks request may take.
    :param status_timeout: seconds a status request may take.
    :param clock: seconds, monotonic (a parameter for tests).
    """

    def __init__(
        self,
        network: Network,
        node: NodeChain,
        importer: BlockImporter,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
        status_timeout: float = STATUS_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.network = network
        self.node = node
        self.importer = importer
        self.request_timeout = request_timeout
        self.status_timeout = status_timeout
        self.clock = clock
        self.progress = Progress()
        #: The highest block number each peer is known to have.
        self.heads: dict[str, int] = {}
        #: Peers a sync failed on: until when they rest, and how many times in a row it failed.
        self._rest_until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        #: Peers whose status poll is still out.
        self._polling: set[str] = set()
        self._wake = asyncio.Event()
        network.on_status = self.note_status

    # -- serving --------------------------------------------------------------------------------

    def serve(self, payload: bytes) -> bytes:
        """The answer to a sync request.

        :raises InvalidMessage: if the request does not decode.
        """
        try:
            request = codec.decode_request(payload)
        except MessageError as exc:
            raise InvalidMessage(Offence.GARBAGE, str(exc)) from None
        if request.kind is Kind.STATUS:
            return codec.encode_status(self.network.status())
        if request.kind is Kind.GET_HEADERS:
            return codec.encode_headers(self._headers(request))
        if request.kind is Kind.GET_BLOCKS:
            return codec.encode_blocks(self._blocks(request))
        return codec.encode_error(f"{request.kind.name} is not served on this protocol")

    def _headers(self, request: Request) -> list[bytes]:
        store = self.node.store
        out: list[bytes] = []
        for number in range(request.start, request.start + request.count):
            header = store.header_by_number(number)
            if header is None:
                break
            out.append(encode_header(header))
        return out

    def _blocks(self, request: Request) -> list[bytes]:
        store = self.node.store
        out: list[bytes] = []
        size = 0
        for number in range(request.start, request.start + request.count):
            block_hash = store.canonical_hash(number)
            raw = store.raw_block(block_hash) if block_hash is not None else None
            if raw is None:
                break
            out.append(raw)
            size += len(raw)
            if size >= codec.SOFT_RESPONSE_BYTES:
                break
        return out

    # -- following peers' heads -----------------------------------------------------------------

    def note_status(self, peer_id: str, status: Status) -> None:
        """A peer's status (handshake or poll)."""
        self.note_head(peer_id, status.head_number)

    def note_head(self, peer_id: str, number: int) -> None:
        """``peer_id`` has a block ``number``; sync if that is above the head (and the peer is
        not resting)."""
        if number > self.heads.get(peer_id, -1):
            self.heads[peer_id] = number
        if self.resting(peer_id):
            return
        if number > self.progress.highest_block:
            self.progress.highest_block = number
            self.network.metrics.set("p2p_sync_highest_block", number)
        if number > self.node.head.number:
            self._wake.set()

    def resting(self, peer_id: str) -> bool:
        """Whether a sync failed on ``peer_id`` recently enough that it is not synced from."""
        until = self._rest_until.get(peer_id)
        if until is None:
            return False
        if self.clock() >= until:
            del self._rest_until[peer_id]
            return False
        return True

    def _rest(self, peer_id: str) -> float:
        """A sync failed on ``peer_id``: let it rest; return for how long."""
        failures = self._failures[peer_id] = self._failures.get(peer_id, 0) + 1
        seconds: float = min(MAX_REST, FIRST_REST * 2.0 ** (failures - 1))
        self._rest_until[peer_id] = self.clock() + seconds
        return seconds

    def _rested(self, peer_id: str) -> None:
        """A window came from ``peer_id``: it is a good source again."""
        self._failures.pop(peer_id, None)
        self._rest_until.pop(peer_id, None)

    def _best_peer(self, exclude: set[str]) -> tuple[str, int] | None:
        best: tuple[str, int] | None = None
        for peer_id, number in self.heads.items():
            if peer_id not in self.network.peers or peer_id in exclude or self.resting(peer_id):
                continue
            if best is None or number > best[1]:
                best = (peer_id, number)
        return best

    async def status_loop(self) -> None:
        """Ask every peer for its status every :data:`STATUS_INTERVAL` seconds."""
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            self.poll_all()

    def poll_all(self) -> None:
        """Start a status poll of every peer that has none out, and forget the heads of
        peers that are gone. Returns at once: each poll is a task of its own, so a peer that
        does not answer holds up no other peer's poll."""
        for peer_id in list(self.network.peers):
            if peer_id in self._polling:
                continue
            self._polling.add(peer_id)
            self.network.context.spawn(self._poll(peer_id), name=f"network-poll-{peer_id[-6:]}")
        for peer_id in list(self.heads):
            if peer_id not in self.network.peers:
                del self.heads[peer_id]
        for peer_id in list(self._rest_until):
            self.resting(peer_id)  # drops the rests that are over
        for peer_id in list(self._failures):
            if peer_id not in self._rest_until and peer_id not in self.network.peers:
                del self._failures[peer_id]

    async def _poll(self, peer_id: str) -> None:
        try:
            status = await self._status(peer_id)
        except SyncError:
            return
        finally:
            self._polling.discard(peer_id)
        self.network.note_status(peer_id, status)

    async def _status(self, peer_id: str) -> Status:
        try:
            raw = await self.network.request(
                peer_id, SYNC_PROTOCOL, codec.encode_request(Kind.STATUS), self.status_timeout
            )
            return codec.decode_status(raw)
        except (TransportError, RemoteError) as exc:
            raise SyncError(str(exc)) from None
        except MessageError as exc:
            await self.network.penalise(peer_id, Offence.GARBAGE, f"status: {exc}")
            raise SyncError(str(exc)) from None

    # -- catching up ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync whenever a peer is ahead, as long as it runs."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.sync()

    async def sync(self) -> None:
        """Catch up with the best peers until none is ahead of the head."""
        failed: set[str] = set()
        started = False
        try:
            while True:
                best = self._best_peer(failed)
                if best is None or best[1] <= self.node.head.number:
                    return
                if not started:
                    started = True
                    self._begin()
                peer_id, _number = best
                try:
                    await self._follow(peer_id)
                except SyncError as exc:
                    rest = self._rest(peer_id)
                    log.info(
                        "sync from %s stopped: %s; not synced from for %.0f s",
                        peer_id,
                        exc,
                        rest,
                        extra={
                            "fields": {
                                "event": "sync_peer_failed",
                                "peer": peer_id,
                                "reason": str(exc),
                                "rest_seconds": rest,
                            }
                        },
                    )
                    failed.add(peer_id)
        finally:
            if started:
                self._end()

    def _begin(self) -> None:
        head = self.node.head.number
        # The heads of peers that are not resting: a resting one's claim is not believed.
        claimed = [
            n for p, n in self.heads.items() if p in self.network.peers and not self.resting(p)
        ]
        self.progress = Progress(True, head, max([head, *claimed]))
        metrics = self.network.metrics
        metrics.set("p2p_syncing", 1)
        metrics.set("p2p_sync_starting_block", head)
        log.info(
            "syncing from block %d toward %d",
            head,
            self.progress.highest_block,
            extra={
                "fields": {
                    "event": "sync_started",
                    "head": head,
                    "highest": self.progress.highest_block,
                }
            },
        )

    def _end(self) -> None:
        self.progress.syncing = False
        self.network.metrics.set("p2p_syncing", 0)
        log.info(
            "sync done at block %d",
            self.node.head.number,
            extra={"fields": {"event": "sync_done", "head": self.node.head.number}},
        )

    async def _follow(self, peer_id: str) -> None:
        """Sync windows from ``peer_id`` until its head is reached (asking it again after
        each window, as it keeps growing)."""
        while True:
            target = self.heads.get(peer_id, -1)
            head = self.node.head
            if target <= head.number:
                status = await self._status(peer_id)
                self.network.note_status(peer_id, status)
                if status.head_number <= self.node.head.number:
                    return
                target = status.head_number
            started = time.perf_counter()
            count = await self._window(peer_id, head, min(WINDOW, target - head.number))
            if count == 0:
                if self.node.head.hash != head.hash:
                    continue  # gossip brought the same blocks meanwhile: no fault of the peer
                raise SyncError(f"it has no blocks above {head.number} after all")
            self._rested(peer_id)
            log.debug(
                "synced %d blocks from %s in %.0f ms",
                count,
                peer_id,
                (time.perf_counter() - started) * 1000,
            )

    async def _window(self, peer_id: str, head: BlockHeader, count: int) -> int:
        """Fetch, check and import one window above ``head``; return how many blocks the
        chain took."""
        start = head.number + 1
        headers = await self._fetch_headers(peer_id, start, count)
        if not headers:
            return 0
        first = headers[0]
        if first.parent_hash != head.hash:
            if not takes_side_chains(self.node.chain):
                raise SyncError(
                    f"its block {first.number} does not extend this node's head: another "
                    "branch, which this chain cannot take"
                )
            headers = await self._fork_window(peer_id, head, count)
            if not headers:
                return 0
        await self._check_headers(peer_id, headers)
        raw = await self._fetch_blocks(peer_id, headers[0].number, len(headers))
        blocks = []
        for header, encoding in zip(headers, raw, strict=False):
            try:
                block = decode_block(encoding, recover=False, chain_id=self.node.chain_id)
            except SuperVMError as exc:
                await self._charge(peer_id, Offence.GARBAGE, f"block {header.number}: {exc}")
            if block.header.hash != header.hash:
                await self._charge(
                    peer_id,
                    Offence.BAD_ANSWER,
                    f"block {header.number} is not the one its headers announced",
                )
            blocks.append(block)
        if not blocks:
            return 0
        result = await self.importer.import_blocks(blocks)
        self.network.metrics.set("p2p_sync_current_block", self.node.head.number)
        if result.failed is not None:
            _header, reason = result.failed
            await self._charge(peer_id, Offence.INVALID_BLOCK, reason)
        return len(result.imported)

    async def _fork_window(self, peer_id: str, head: BlockHeader, count: int) -> list[BlockHeader]:
        """The peer is on another branch: find the newest block both have (walking down in
        doubling steps) and return the peer's headers from just above it."""
        store = self.node.store
        step = count
        low = head.number
        while low > 0:
            low = max(0, low - step)
            step *= 2
            headers = await self._fetch_headers(peer_id, low + 1, min(codec.MAX_RANGE, count))
            if not headers:
                return []
            if store.header(headers[0].parent_hash) is None:
                continue
            # Skip what this node has already; the first new one links to a stored block.
            for index, header in enumerate(headers):
                if store.header(header.hash) is None:
                    return headers[index:]
            return []
        return []

    async def _check_headers(self, peer_id: str, headers: list[BlockHeader]) -> None:
        store = self.node.store
        parent = store.header(headers[0].parent_hash)
        if parent is None:
            await self._charge(peer_id, Offence.BAD_ANSWER, "headers link to no known block")
        window = _Window(self.node, headers)
        engine = self.node.chain.consensus
        for header in headers:
            if header.number != parent.number + 1 or header.parent_hash != parent.hash:
                await self._charge(
                    peer_id, Offence.BAD_ANSWER, f"header {header.number} does not link"
                )
            try:
                engine.verify_seal(header, parent, chain=window)
            except SuperVMError as exc:
                await self._charge(peer_id, Offence.BAD_SEAL, f"header {header.number}: {exc}")
            parent = header

    async def _fetch_headers(self, peer_id: str, start: int, count: int) -> list[BlockHeader]:
        raw = await self._ask(peer_id, Kind.GET_HEADERS, start, count)
        try:
            headers = codec.decode_headers(raw, limit=count)
        except RemoteError as exc:
            raise SyncError(f"headers refused: {exc}") from None
        except MessageError as exc:
            await self._charge(peer_id, Offence.GARBAGE, f"headers: {exc}")
        if headers and headers[0].number != start:
            await self._charge(
                peer_id, Offence.BAD_ANSWER, f"headers start at {headers[0].number}, not {start}"
            )
        return headers

    async def _fetch_blocks(self, peer_id: str, start: int, count: int) -> list[bytes]:
        raw = await self._ask(peer_id, Kind.GET_BLOCKS, start, count)
        try:
            return codec.decode_blocks(raw, limit=count)
        except RemoteError as exc:
            raise SyncError(f"blocks refused: {exc}") from None
        except MessageError as exc:
            await self._charge(peer_id, Offence.GARBAGE, f"blocks: {exc}")

    async def _ask(self, peer_id: str, kind: Kind, start: int, count: int) -> bytes:
        try:
            return await self.network.request(
                peer_id,
                SYNC_PROTOCOL,
                codec.encode_request(kind, start, count),
                self.request_timeout,
            )
        except TransportError as exc:
            raise SyncError(str(exc)) from None

    async def _charge(self, peer_id: str, offence: Offence, reason: str) -> NoReturn:
        """Charge the peer and stop syncing from it (never returns)."""
        await self.network.penalise(peer_id, offence, reason)
        raise SyncError(reason)
