"""What the network needs from a transport, so that libp2p can be replaced.

The node's side of the network (gossip validation, sync, discovery, scoring) talks to a
:class:`Transport` only; the transport moves bytes. It is built with three callbacks, all
called in the node's event loop:

- ``inbound(protocol_id, peer_id, payload)``: a gossip message or a request arrived; the
  answer is the reply for a request, or for a gossip message ``bytes`` to relay it and ``None``
  not to (see :mod:`supervm_network.dispatch`);
- ``connected(peer)``, ``disconnected(peer_id)``: a peer came or went.

Protocol ids are the ones handlers are registered under with ``supervm_register_p2p_handlers``
(``/supervm/tx/1``); a transport may namespace them on the wire (the libp2p one puts the chain
id in: ``/supervm/31337/tx/1``, see :func:`wire_id`).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias

import attrs
from supervm.errors import SuperVMError

#: The gossip topics: transactions and blocks.
TX_TOPIC: Final = "/supervm/tx/1"
BLOCKS_TOPIC: Final = "/supervm/blocks/1"
GOSSIP_TOPICS: Final = (TX_TOPIC, BLOCKS_TOPIC)
#: The request/response protocols: status, headers and blocks by number; peer exchange.
SYNC_PROTOCOL: Final = "/supervm/sync/1"
PEERS_PROTOCOL: Final = "/supervm/peers/1"


class TransportError(SuperVMError):
    """A request or a dial failed: the peer is gone, refused the protocol, or timed out."""


@attrs.frozen
class PeerRecord:
    """A connected peer as the transport sees it.

    :param peer_id: the peer's id (libp2p: base58 of its key's multihash).
    :param address: the remote address of the connection (multiaddr text).
    :param inbound: whether the peer dialled us.
    """

    peer_id: str
    address: str
    inbound: bool


Inbound: TypeAlias = Callable[[str, str, bytes], Awaitable[bytes | None]]
Connected: TypeAlias = Callable[[PeerRecord], None]
Disconnected: TypeAlias = Callable[[str], None]


def wire_id(protocol_id: str, chain_id: int) -> str:
    """``protocol_id`` namespaced by chain: ``/supervm/tx/1`` → ``/supervm/31337/tx/1``.

    Nodes of different chains then share no topic and no protocol; nodes of one chain id but
    different genesis blocks find out from each other's status and part.
    """
    if protocol_id.startswith("/supervm/"):
        return f"/supervm/{chain_id}/{protocol_id.removeprefix('/supervm/')}"
    return f"/supervm/{chain_id}/{protocol_id.lstrip('/')}"


class Transport(abc.ABC):
    """Moves the network's bytes between peers.

    Every method is called from the node's event loop.
    """

    @property
    @abc.abstractmethod
    def local_id(self) -> str:
        """This node's peer id."""

    @property
    @abc.abstractmethod
    def addresses(self) -> list[str]:
        """Where peers can dial this node, each ending in its peer id (``/p2p/ID``)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Listen, subscribe to the gossip topics and serve the protocols; return once ready.

        :raises TransportError: if it cannot listen.
        """

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close every connection and stop."""

    @abc.abstractmethod
    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic`` (one of :data:`GOSSIP_TOPICS`)."""

    @abc.abstractmethod
    async def request(self, peer_id: str, protocol_id: str, data: bytes, timeout: float) -> bytes:
        """Send ``data`` to ``peer_id`` on ``protocol_id`` and return its answer.

        :raises TransportError: if it fails or takes longer than ``timeout`` seconds.
        """

    @abc.abstractmethod
    async def connect(self, address: str) -> str:
        """Dial ``address`` (ending in ``/p2p/ID``) and return the peer's id.

        :raises TransportError: if the dial fails.
        """

    @abc.abstractmethod
    async def disconnect(self, peer_id: str) -> None:
        """Close the connections to ``peer_id`` (nothing if there are none)."""

    @abc.abstractmethod
    async def listen_addresses_of(self, peer_id: str) -> list[str]:
        """The addresses ``peer_id`` says it listens on (for peer exchange), ``/p2p/ID``
        included; empty if unknown."""
