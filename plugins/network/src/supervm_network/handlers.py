"""The network's protocol handlers, registered with ``supervm_register_p2p_handlers``.

They are transport-independent: a transport hands each one a
:class:`~supervm.services.p2p.PeerMessage` and the ``network`` service's context, and reads the
answer as :mod:`.transport` says (a request's reply; for a gossip topic, bytes to relay the
message, ``None`` not to). Each finds the node's :class:`~.network.Network` in the stash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.services.p2p import PeerMessage
from supervm.services.service import ServiceContext

from . import codec
from .codec import Kind, MessageError
from .network import NETWORK, InvalidMessage, Network
from .scoring import Offence

if TYPE_CHECKING:
    from .gossip import Gossip
    from .sync import Syncer

#: The answer that relays a gossip message.
RELAY = b""


def _network(context: ServiceContext) -> Network:
    return context.stash[NETWORK]


def _gossip(context: ServiceContext) -> Gossip:
    gossip = _network(context).gossip
    if gossip is None:
        raise RuntimeError("the network's gossip is not running")
    return gossip


def _syncer(context: ServiceContext) -> Syncer:
    syncer = _network(context).syncer
    if syncer is None:
        raise RuntimeError("the network's sync is not running")
    return syncer


def on_transactions(message: PeerMessage, context: ServiceContext) -> None:
    """``/supervm/tx/1``: offer the transactions to the pool; never relayed as such (the pool's
    admissions are announced instead)."""
    _gossip(context).on_transactions(message.peer_id, message.payload)


def on_block(message: PeerMessage, context: ServiceContext) -> bytes | None:
    """``/supervm/blocks/1``: relay once the seal checks out; import."""
    return RELAY if _gossip(context).on_block(message.peer_id, message.payload) else None


def on_sync(message: PeerMessage, context: ServiceContext) -> bytes:
    """``/supervm/sync/1``: status, headers and blocks by number."""
    return _syncer(context).serve(message.payload)


async def on_peers(message: PeerMessage, context: ServiceContext) -> bytes:
    """``/supervm/peers/1``: the addresses of this node's other peers."""
    try:
        request = codec.decode_request(message.payload)
    except MessageError as exc:
        raise InvalidMessage(Offence.GARBAGE, str(exc)) from None
    if request.kind is not Kind.GET_PEERS:
        return codec.encode_error(f"{request.kind.name} is not served on this protocol")
    network = _network(context)
    return codec.encode_peers(await network.peer_addresses(excluding=message.peer_id))
