"""What the node's services can ask of its peer-to-peer network, whichever transport runs it.

The network plugin stores a :class:`NetworkStatus` under :data:`NETWORK_STATUS` when it starts;
JSON-RPC's ``net_peerCount`` and ``eth_syncing`` read it there, so neither plugin imports the
other and a node without a network (dev mode) simply has none.
"""

from __future__ import annotations

from typing import Final, Protocol

import attrs

from supervm.services.service import StashKey


@attrs.frozen
class SyncProgress:
    """Where a running sync stands (``eth_syncing``'s fields).

    :param starting_block: the head when the sync started.
    :param highest_block: the highest head a peer has announced.
    """

    starting_block: int
    highest_block: int


class NetworkStatus(Protocol):
    """The network's state, as JSON-RPC reports it."""

    def peer_count(self) -> int:
        """How many peers are connected now."""

    def sync_progress(self) -> SyncProgress | None:
        """The running sync's progress, or ``None`` when the node is not syncing."""


NETWORK_STATUS: Final = StashKey[NetworkStatus]("network status")

__all__ = ["NETWORK_STATUS", "NetworkStatus", "SyncProgress"]
