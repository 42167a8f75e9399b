"""Long-running services: what a plugin implements, and what it receives when it starts.

A node is a set of services (JSON-RPC server, transaction pool, block producer, peer-to-peer
network, metrics exporter) that plugins register through ``supervm_register_services`` and one
:class:`~supervm.services.host.ServiceHost` runs in one asyncio event loop. Services reach each
other only through the kernel and the typed objects they share in the context's :class:`Stash`,
never by importing each other's plugin.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final, overload

import attrs

from supervm.errors import SuperVMError

if TYPE_CHECKING:
    from supervm.kernel import Kernel
    from supervm.services.metrics import Metrics

T = TypeVar("T")
D = TypeVar("D")

#: What :meth:`ServiceContext.spawn` hands to the host: ``(coroutine, task name) -> task``.
Spawner = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class ServiceError(SuperVMError):
    """A service failed to start, failed while running, or failed to stop.

    The message names the service and the plugin that registered it.
    """


@final
class StashKey(Generic[T]):
    """A typed key into a :class:`Stash`, compared by identity.

    Define one per shared object at module level, where every service that uses the object can
    import it: ``CHAIN = StashKey[ChainStore]("chain")``.

    :param name: shown in error messages and reprs.
    """

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


@final
class Stash:
    """Typed objects that the services of one host share (pytest's ``Stash``).

    A service that provides an object stores it when it starts, ``context.stash[CHAIN] = store``;
    services started after it read it back with its type, ``context.stash[CHAIN]``.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._items[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        try:
            return self._items[key]  # type: ignore[return-value]
        except KeyError:
            raise KeyError(
                f"nothing is stashed under {key!r}: the service that provides it has not "
                "started (declare it in add_service(..., after=...))"
            ) from None

    @overload
    def get(self, key: StashKey[T]) -> T | None: ...
    @overload
    def get(self, key: StashKey[T], default: D) -> T | D: ...
    def get(self, key: StashKey[T], default: object = None) -> object:
        """The object under ``key``, or ``default``."""
        return self._items.get(key, default)

    def setdefault(self, key: StashKey[T], default: T) -> T:
        """The object under ``key``, storing ``default`` there first if there is none."""
        return self._items.setdefault(key, default)  # type: ignore[return-value]

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def _no_host(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    coroutine.close()
    raise ServiceError(f"cannot spawn {name!r}: this context does not belong to a ServiceHost")


@attrs.frozen
class ServiceContext:
    """What a service receives in :meth:`Service.start`.

    Every service of a host sees the same kernel, stash and metrics; ``name`` and :meth:`spawn`
    are its own.

    :param kernel: the kernel the host runs on: registries, configuration, execution.
    :param stash: typed objects shared between the host's services.
    :param metrics: records values of the metrics plugins declared with
        ``supervm_register_metrics``.
    :param name: the name the service was registered under.
    """

    kernel: Kernel
    stash: Stash
    metrics: Metrics
    name: str = ""
    _spawner: Spawner = attrs.field(default=_no_host, alias="spawner", repr=False, eq=False)

    def spawn(
        self, coroutine: Coroutine[Any, Any, None], *, name: str | None = None
    ) -> asyncio.Task[None]:
        """Run ``coroutine`` as a background task of this service.

        The host cancels the task after the service's :meth:`Service.stop` returns. If the task
        raises, the host stops every service, in reverse start order, and
        :meth:`~supervm.services.host.ServiceHost.run` raises a :class:`ServiceError` naming
        this service. Use it for the service's long-running loops (accepting connections,
        producing blocks) instead of :func:`asyncio.create_task`, whose failures nobody sees.

        :param coroutine: the work to run.
        :param name: the task's name (default: the service's name).
        """
        return self._spawner(coroutine, name or self.name)


class Service(abc.ABC):
    """A long-running part of a node, started and stopped by a :class:`ServiceHost`.

    ``start`` sets the service up and returns once it is ready (a server is listening, a pool
    accepts transactions); the work that continues afterwards runs in tasks started with
    :meth:`ServiceContext.spawn`. Services start in registration order, each after the ones
    it names in ``add_service(..., after=...)``, and stop in the reverse order.
    """

    @abc.abstractmethod
    async def start(self, context: ServiceContext) -> None:
        """Start the service; raise to abort the host's start-up (every started service stops).

        :param context: the kernel, the shared stash, metrics, and a way to spawn tasks.
        """

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the service and release what it holds; called once, only after ``start``.

        The host cancels the service's spawned tasks after this returns.
        """
