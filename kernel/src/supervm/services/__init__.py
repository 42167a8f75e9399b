"""Services: the long-running parts of a node, and the tables plugins fill for them.

:class:`Service` and :class:`ServiceHost` run the services plugins register
(``supervm_register_services``) in one asyncio loop; :mod:`~supervm.services.rpc`,
:mod:`~supervm.services.p2p` and :mod:`~supervm.services.metrics` hold what JSON-RPC methods,
peer-to-peer handlers and metrics are; :mod:`~supervm.services.admission` is the transaction
pool's question to plugins.
"""

from supervm.services.admission import AdmissionContext, Rejection, admit
from supervm.services.host import ServiceHost
from supervm.services.metrics import (
    DEFAULT_BUCKETS,
    Metric,
    MetricError,
    MetricKind,
    Metrics,
    Series,
)
from supervm.services.p2p import P2PHandler, PeerMessage, deliver
from supervm.services.rpc import RpcError, RpcHandler, RpcMethod, RpcParams, namespace_of
from supervm.services.service import Service, ServiceContext, ServiceError, Stash, StashKey

__all__ = [
    "DEFAULT_BUCKETS",
    "AdmissionContext",
    "Metric",
    "MetricError",
    "MetricKind",
    "Metrics",
    "P2PHandler",
    "PeerMessage",
    "Rejection",
    "RpcError",
    "RpcHandler",
    "RpcMethod",
    "RpcParams",
    "Series",
    "Service",
    "ServiceContext",
    "ServiceError",
    "ServiceHost",
    "Stash",
    "StashKey",
    "admit",
    "deliver",
    "namespace_of",
]
