"""Peer-to-peer message handlers: what a plugin registers per protocol, and how it is called.

Plugins add one handler per protocol id with ``supervm_register_p2p_handlers``
(``registry.add_handler("/supervm/tx/1", on_transactions)``). The kernel has no network: the
networking plugin's service receives a message, finds the protocol's handler with
:meth:`~supervm.plugins.registry.P2PHandlerRegistry.find`, and calls :func:`deliver`. A protocol
id is whatever the transport names protocols with: a libp2p protocol or gossip topic
(``/supervm/blocks/1``) or a devp2p capability (``eth/68``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, TypeAlias

import attrs

if TYPE_CHECKING:
    from supervm.services.service import ServiceContext

#: Printable ASCII without spaces: ``/supervm/tx/1``, ``eth/68``.
PROTOCOL_ID: Final = re.compile(r"^[!-~]+$")


@attrs.frozen
class PeerMessage:
    """A message received from a peer.

    :param protocol_id: the protocol it arrived on.
    :param peer_id: the sending peer, as the transport identifies it.
    :param payload: the message's bytes, undecoded.
    """

    protocol_id: str
    peer_id: str
    payload: bytes


#: ``handler(message, context)`` returns reply bytes for a request-response protocol, or
#: ``None``; it may be synchronous or a coroutine function.
P2PHandler: TypeAlias = Callable[
    [PeerMessage, "ServiceContext"], bytes | Awaitable[bytes | None] | None
]


async def deliver(
    handler: P2PHandler, message: PeerMessage, context: ServiceContext
) -> bytes | None:
    """Call ``handler`` with ``message``, awaiting it if it is asynchronous; return its reply."""
    reply = handler(message, context)
    if inspect.isawaitable(reply):
        reply = await reply
    if reply is not None and not isinstance(reply, bytes):
        raise TypeError(
            f"handler for {message.protocol_id} returned {type(reply).__name__}, "
            "expected bytes or None"
        )
    return reply
