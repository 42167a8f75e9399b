"""``admin_nodeInfo``, ``admin_peers`` and ``admin_addPeer``, in geth's shapes where they fit.

geth describes peers by enode URLs; a libp2p node is a multiaddr ending in its peer id, which
is what ``enode``-like fields hold here (``multiaddr``). On a node started without
``--p2p-port`` the methods say the network is not running (``admin_peers`` is empty).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from supervm.services.rpc import INVALID_PARAMS, RpcError, RpcParams
from supervm.services.service import ServiceContext

from .network import NETWORK, Network
from .transport import TransportError

#: geth's code for a request the node cannot serve.
SERVER_ERROR: Final = -32000


def _network(context: ServiceContext) -> Network:
    network = context.stash.get(NETWORK)
    if network is None or network.transport is None:
        raise RpcError(
            SERVER_ERROR, "the network is not running (start the node with --p2p-port PORT)"
        )
    return network


def _positional(params: RpcParams, count: int) -> list[Any]:
    if not isinstance(params, list) or len(params) != count:
        raise RpcError(INVALID_PARAMS, f"expected {count} positional parameter(s)")
    return params


def _name() -> str:
    try:
        own = version("supervm")
    except PackageNotFoundError:
        own = "0.0.0"
    return f"SuperVM/v{own}"


def admin_node_info(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    """This node: id, addresses, and its chain as peers see it."""
    _positional(params or [], 0)
    network = _network(context)
    transport = network.transport
    assert transport is not None
    status = network.status()
    addresses = transport.addresses
    listen = addresses[0].rsplit("/p2p/", 1)[0] if addresses else ""
    port = int(listen.rsplit("/tcp/", 1)[1]) if "/tcp/" in listen else 0
    return {
        "id": transport.local_id,
        "name": _name(),
        "multiaddr": addresses[0] if addresses else "",
        "multiaddrs": addresses,
        "listenAddr": listen,
        "ports": {"listener": port, "discovery": 0},
        "protocols": {
            "supervm": {
                "network": status.chain_id,
                "genesis": "0x" + status.genesis_hash.hex(),
                "head": "0x" + status.head_hash.hex(),
                "number": status.head_number,
            }
        },
    }


def admin_peers(params: RpcParams, context: ServiceContext) -> list[dict[str, Any]]:
    """The connected peers."""
    _positional(params or [], 0)
    network = context.stash.get(NETWORK)
    if network is None or network.transport is None:
        return []
    out = []
    for peer_id, peer in sorted(network.peers.items()):
        known = network.known.get(peer_id)
        entry: dict[str, Any] = {
            "id": peer_id,
            "multiaddr": f"{peer.record.address}/p2p/{peer_id}" if peer.record.address else "",
            "network": {
                "remoteAddress": peer.record.address,
                "inbound": peer.record.inbound,
                "static": bool(known and known.static),
                "trusted": False,
            },
            "score": network.scores.score(peer_id),
            "connectedAt": int(peer.connected_at),
            "protocols": {},
        }
        if peer.status is not None:
            entry["protocols"]["supervm"] = {
                "head": "0x" + peer.status.head_hash.hex(),
                "number": peer.status.head_number,
            }
        out.append(entry)
    return out


async def admin_add_peer(params: RpcParams, context: ServiceContext) -> bool:
    """Remember a peer (``/ip4/H/tcp/P/p2p/ID``) as static and dial it now; ``true`` once
    dialled, as geth answers once the peer is queued."""
    (address,) = _positional(params, 1)
    if not isinstance(address, str):
        raise RpcError(INVALID_PARAMS, "invalid argument 0: expected a multiaddr string")
    network = _network(context)
    try:
        network.add_known(address, static=True)
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"invalid argument 0: {exc}") from None
    assert network.transport is not None
    try:
        await network.transport.connect(address)
    except TransportError as exc:
        # geth answers true and keeps trying; the dialler does too, but say why it failed.
        raise RpcError(SERVER_ERROR, f"{exc} (the node keeps trying)") from None
    return True


METHODS: Final = {
    "admin_nodeInfo": admin_node_info,
    "admin_peers": admin_peers,
    "admin_addPeer": admin_add_peer,
}
