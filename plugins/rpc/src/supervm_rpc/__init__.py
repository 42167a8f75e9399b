"""SuperVM plugin: the JSON-RPC server, Ethereum's execution API over HTTP and WebSocket.

It registers the ``rpc`` service (:class:`~supervm_rpc.server.RpcService`), the ``web3``,
``net``, ``eth`` and ``txpool`` methods (:mod:`supervm_rpc.methods`) through the kernel's
RPC-method registry, where any plugin may add its own the same way, and the ``rpc_*`` metrics.
See ``docs/json-rpc.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.node.keys import CHAIN_SERVICE, POOL_SERVICE
from supervm.plugins.hookspecs import hookimpl

from . import methods
from .backend import BACKEND, CONNECTION, RpcBackend
from .protocol import FAILURE, REQUESTS, SUCCESS, Dispatcher
from .server import PAGES, RpcService

if TYPE_CHECKING:
    from supervm.plugins.registry import MetricRegistry, RpcMethodRegistry, ServiceRegistry

__all__ = [
    "BACKEND",
    "CONNECTION",
    "PAGES",
    "RPC_SERVICE",
    "Dispatcher",
    "RpcBackend",
    "RpcService",
    "supervm_register_metrics",
    "supervm_register_rpc_methods",
    "supervm_register_services",
]

#: The name the server is registered under.
RPC_SERVICE = "rpc"


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """The server, started once the chain and the pool are there."""
    registry.add_service(
        RPC_SERVICE, RpcService(), after=[CHAIN_SERVICE], after_if_present=[POOL_SERVICE]
    )


@hookimpl
def supervm_register_rpc_methods(registry: RpcMethodRegistry) -> None:
    """The ``web3``, ``net``, ``eth`` and ``txpool`` methods."""
    methods.register(registry)


@hookimpl
def supervm_register_metrics(registry: MetricRegistry) -> None:
    """geth's request counters; the per-method durations are declared when the server starts,
    once every plugin's methods are known."""
    for metric in (REQUESTS, SUCCESS, FAILURE):
        registry.add_counter(metric.name, metric.help)
