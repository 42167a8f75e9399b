"""The service host: runs every registered service in one asyncio event loop.

::

    host = ServiceHost(kernel)           # the services the enabled plugins registered
    asyncio.run(host.run())              # start all, run until host.shutdown(), stop all

Services start one at a time in :meth:`ServiceRegistry.start_order` (registration order, each
after the services it names in ``after``) and stop in the reverse order: on
:meth:`ServiceHost.shutdown`, when the task running :meth:`ServiceHost.run` is cancelled (Ctrl-C
under :func:`asyncio.run`), when a service fails to start, or when a task a service spawned
raises. Every started service is stopped even if another one fails to stop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import attrs

from supervm.services.metrics import Metrics
from supervm.services.service import Service, ServiceContext, ServiceError, Stash

if TYPE_CHECKING:
    from supervm.kernel import Kernel
    from supervm.plugins.registry import ServiceRegistry

log = logging.getLogger("supervm.services")


@attrs.define
class _Running:
    """A started service and the tasks it spawned."""

    name: str
    plugin: str
    service: Service
    tasks: set[asyncio.Task[None]] = attrs.field(factory=set)
    stopping: bool = False

    @property
    def label(self) -> str:
        return f"service {self.name!r} (plugin {self.plugin})"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ServiceHost:
    """Starts the registered services in one event loop and stops them in reverse order.

    :param kernel: the kernel every service's context gives access to.
    :param services: the services to run (default: ``kernel.services()``, every service the
        enabled plugins registered).
    :param stash: the objects the services share (default: a new, empty stash).
    :param metrics: where services record metrics (default: the metrics the enabled plugins
        declared, ``kernel.metrics()``).
    :param stop_timeout: seconds a service's ``stop`` may take before it is abandoned and
        reported as failed.
    """

    def __init__(
        self,
        kernel: Kernel,
        services: ServiceRegistry | None = None,
        *,
        stash: Stash | None = None,
        metrics: Metrics | None = None,
        stop_timeout: float = 30.0,
    ) -> None:
        self.kernel = kernel
        self.services = services if services is not None else kernel.services()
        self.stash = stash if stash is not None else Stash()
        self.metrics = metrics if metrics is not None else Metrics(kernel.metrics().metrics())
        self.stop_timeout = stop_timeout
        self._running: list[_Running] = []
        self._wake: asyncio.Event | None = None
        self._failure: ServiceError | None = None
        self._started = False

    # -- public API ------------------------------------------------------------------------------

    @property
    def running(self) -> list[str]:
        """Names of the started services, in start order."""
        return [r.name for r in self._running]

    async def start(self) -> None:
        """Start every service in order; if one fails, stop those started and raise.

        :raises ServiceError: naming the service that failed to start (its exception is the
            cause), or a missing or circular ``after`` dependency, before anything starts.
        """
        if self._started:
            raise ServiceError("this ServiceHost has already been started")
        self._started = True
        if self._wake is None:  # shutdown() may have been asked for already
            self._wake = asyncio.Event()
        order = self.services.start_order()
        for entry in order:
            running = _Running(entry.name, entry.plugin, entry.value)
            context = ServiceContext(
                self.kernel,
                self.stash,
                self.metrics,
                entry.name,
                spawner=functools.partial(self._spawn, running),
            )
            log.info("starting %s", running.label)
            try:
                await running.service.start(context)
            except BaseException as exc:
                running.stopping = True
                await self._cancel_tasks(running)
                stop_errors = await self._stop_all()
                if not isinstance(exc, Exception):
                    raise  # cancelled or interrupted during start-up: the rest are stopped
                error = ServiceError(f"{running.label} failed to start: {_describe(exc)}")
                _note_stop_errors(error, stop_errors)
                raise error from exc
            self._running.append(running)
            if self._failure is not None:  # a task of an earlier service failed meanwhile
                break
        if self._failure is not None:
            self._raise(await self._stop_all())

    async def stop(self) -> None:
        """Stop the started services in reverse order, each even if another fails to stop.

        :raises ServiceError: for a task of a service that failed while running (not reported
            yet), or listing the services that failed to stop.
        """
        self._raise(await self._stop_all())

    def shutdown(self) -> None:
        """Ask :meth:`run` to stop the services and return.

        Call it from the event loop's thread (a service, or a signal handler installed with
        ``loop.add_signal_handler``); from another thread use
        ``loop.call_soon_threadsafe(host.shutdown)``.
        """
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()

    async def run(self) -> None:
        """Start every service, wait for :meth:`shutdown` or a failure, then stop them all.

        :raises ServiceError: if a service fails to start, a task a service spawned raises (the
            message names the service; the task's exception is the cause), or a service fails to
            stop.
        """
        await self.start()
        try:
            await self.wait()
        finally:
            stop_errors = await self._stop_all()
        self._raise(stop_errors)

    async def wait(self) -> None:
        """After :meth:`start`, wait for :meth:`shutdown` or a failing task; then call
        :meth:`stop`, which raises the failure, if any."""
        if self._wake is None:
            raise ServiceError("wait() needs a started ServiceHost")
        await self._wake.wait()

    async def __aenter__(self) -> ServiceHost:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- internals -----------------------------------------------------------------------------

    def _raise(self, stop_errors: list[str]) -> None:
        """Raise the running failure (once), else the failures to stop, if any."""
        failure, self._failure = self._failure, None
        if failure is not None:
            _note_stop_errors(failure, stop_errors)
            raise failure
        if stop_errors:
            raise ServiceError("; ".join(stop_errors))

    def _spawn(
        self, running: _Running, coroutine: Coroutine[Any, Any, None], name: str
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        running.tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(running, t))
        return task

    def _task_done(self, running: _Running, task: asyncio.Task[None]) -> None:
        running.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if running.stopping:  # e.g. a loop whose socket stop() closed: not a failure
            log.warning(
                "%s: task %r failed while stopping: %s", running.label, task.get_name(), exc
            )
            return
        log.error("%s: task %r failed", running.label, task.get_name(), exc_info=exc)
        if self._failure is None:
            failure = ServiceError(f"{running.label} failed: {_describe(exc)}")
            failure.__cause__ = exc
            self._failure = failure
        if self._wake is not None:
            self._wake.set()

    async def _cancel_tasks(self, running: _Running) -> None:
        tasks = list(running.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _stop_all(self) -> list[str]:
        """Stop every started service, last first; return what went wrong, never raise."""
        errors: list[str] = []
        while self._running:
            running = self._running.pop()
            running.stopping = True
            log.info("stopping %s", running.label)
            try:
                await asyncio.wait_for(running.service.stop(), self.stop_timeout)
            except TimeoutError:
                log.error("%s did not stop within %g s", running.label, self.stop_timeout)
                errors.append(f"{running.label} did not stop within {self.stop_timeout:g} s")
            except Exception as exc:
                log.error("%s failed to stop", running.label, exc_info=exc)
                errors.append(f"{running.label} failed to stop: {_describe(exc)}")
            finally:
                await self._cancel_tasks(running)
        return errors


def _note_stop_errors(error: ServiceError, stop_errors: list[str]) -> None:
    for message in stop_errors:
        error.add_note(f"while stopping the other services: {message}")
