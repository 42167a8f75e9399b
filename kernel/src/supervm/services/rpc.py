"""JSON-RPC methods: what a plugin registers, and how a dispatcher calls it.

Plugins add methods by name with ``supervm_register_rpc_methods``; the name's prefix before the
first ``_`` is its namespace (``eth_chainId`` is in ``eth``), which is what a server enables or
disables as a whole (geth's ``--http.api eth,net``). The kernel runs no server: an RPC plugin's
service looks a method up with :meth:`~supervm.plugins.registry.RpcMethodRegistry.find` and calls
:meth:`RpcMethod.call`, turning an :class:`RpcError` into a JSON-RPC error object.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from supervm.errors import SuperVMError

if TYPE_CHECKING:
    from supervm.services.service import ServiceContext

#: JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

#: A method name: ``namespace_method``, the namespace lower-case (``eth_getBalance``).
METHOD_NAME: Final = re.compile(r"^(?P<namespace>[a-z][a-z0-9]*)_[A-Za-z0-9_]*[A-Za-z0-9]$")

#: A request's ``params``: by position (a JSON array) or by name (a JSON object).
RpcParams: TypeAlias = Sequence[Any] | Mapping[str, Any]
#: ``handler(params, context)`` returns the JSON-ready result, or an awaitable of it.
RpcHandler: TypeAlias = Callable[[RpcParams, "ServiceContext"], Any | Awaitable[Any]]


class RpcError(SuperVMError):
    """Raised by a handler to answer with a JSON-RPC error object.

    Any other exception a handler raises is the server's to report as ``INTERNAL_ERROR``.

    :param code: the error code (:data:`INVALID_PARAMS`, or an application code such as
        ``3`` with revert data, as Ethereum nodes use).
    :param message: a short description; Ethereum tools match some verbatim ("nonce too low").
    :param data: optional JSON-ready details.
    """

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def namespace_of(name: str) -> str:
    """The namespace of a method name: its prefix before the first ``_``."""
    return name.split("_", 1)[0]


@attrs.frozen
class RpcMethod:
    """One registered method.

    :param name: the full method name, ``eth_chainId``.
    :param handler: the callable that answers it.
    """

    name: str
    handler: RpcHandler = attrs.field(eq=False)

    @property
    def namespace(self) -> str:
        """The namespace the method belongs to (``eth``)."""
        return namespace_of(self.name)

    async def call(self, params: RpcParams, context: ServiceContext) -> Any:
        """Run the handler, awaiting its result if it is asynchronous.

        A synchronous handler runs in the event loop's thread: it must be quick, or hand its
        work to a thread itself (``await asyncio.to_thread(...)`` in an async handler).
        """
        result = self.handler(params, context)
        if inspect.isawaitable(result):
            result = await result
        return result
