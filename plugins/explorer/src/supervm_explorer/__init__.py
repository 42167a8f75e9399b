"""SuperVM plugin: the dev-node explorer, the chain in a browser, served by the node.

It registers the ``explorer`` service (:class:`~supervm_explorer.service.ExplorerService`),
which serves the single-page app at ``/`` on the JSON-RPC port (or on ``--explorer-port``) and
keeps the artifacts the node knows, and the ``supervm_`` methods the app reads what the
standard methods lack through (:mod:`supervm_explorer.methods`). See ``docs/explorer.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.plugins.hookspecs import hookimpl

from . import methods
from .book import ArtifactBook, Known
from .methods import ARTIFACTS
from .service import EXPLORER_SERVICE, ExplorerError, ExplorerPages, ExplorerService

if TYPE_CHECKING:
    from supervm.plugins.registry import RpcMethodRegistry, ServiceRegistry

__all__ = [
    "ARTIFACTS",
    "EXPLORER_SERVICE",
    "ArtifactBook",
    "ExplorerError",
    "ExplorerPages",
    "ExplorerService",
    "Known",
    "supervm_register_rpc_methods",
    "supervm_register_services",
]


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """The explorer, started after the JSON-RPC server whose port it serves on."""
    registry.add_service(EXPLORER_SERVICE, ExplorerService(), after_if_present=["rpc"])


@hookimpl
def supervm_register_rpc_methods(registry: RpcMethodRegistry) -> None:
    """The ``supervm_`` methods."""
    methods.register(registry)
