"""Plugin discovery and selection.

Every plugin, built-in or third-party, is an installed distribution that declares a module in the
``supervm.plugins`` entry-point group. :class:`PluginSet` finds them, applies the user's
selection (``--plugin``, ``SUPERVM_PLUGINS``), registers the enabled ones with pluggy, and keeps
going when one fails to import, warning with the distribution's name and the error.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import attrs
import pluggy

from supervm.errors import PluginError
from supervm.plugins import hookspecs

ENTRY_POINT_GROUP = "supervm.plugins"
#: Comma-separated allow-list of plugins to enable; unset or empty enables all installed.
ENV_PLUGINS = "SUPERVM_PLUGINS"
#: Set to 1 to trace every hook call to the ``supervm.hooks`` logger.
ENV_TRACE = "SUPERVM_TRACE_HOOKS"

T = TypeVar("T")

log = logging.getLogger("supervm.plugins")
trace_log = logging.getLogger("supervm.hooks")


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported; the others still load."""


@attrs.frozen
class PluginInfo:
    """What ``supervm plugins`` reports about one plugin.

    :param name: the entry-point name, used with ``--plugin``.
    :param distribution: the installed distribution that provides it.
    :param version: that distribution's version.
    :param hooks: names of the hooks it implements.
    :param enabled: whether it is registered in this kernel.
    :param error: why it failed to load, if it did.
    """

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    enabled: bool
    error: str | None = None


@attrs.frozen
class Selection:
    """Which plugins the user asked for.

    :param allow: if non-empty, only these plugins (and those in ``prefer``) are enabled.
    :param prefer: plugins named with ``--plugin``: enabled, and their implementations chosen
        first in every area they register in.
    :param block: plugins never enabled (``--plugin no:NAME``).
    """

    allow: frozenset[str] = frozenset()
    prefer: tuple[str, ...] = ()
    block: frozenset[str] = frozenset()

    @classmethod
    def parse(
        cls, plugin_args: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> Selection:
        """Build a selection from ``--plugin`` values and the environment."""
        env = os.environ if env is None else env
        allow = {p.strip() for p in env.get(ENV_PLUGINS, "").split(",") if p.strip()}
        prefer: list[str] = []
        block: set[str] = set()
        for arg in plugin_args:
            for name in (p.strip() for p in arg.split(",")):
                if not name:
                    continue
                if name.startswith("no:"):
                    block.add(name[3:])
                elif name not in prefer:
                    prefer.append(name)
        return cls(frozenset(allow), tuple(prefer), frozenset(block))

    def enables(self, name: str) -> bool:
        """Whether a plugin called ``name`` should be registered."""
        if name in self.block:
            return False
        if name in self.prefer:
            return True
        return not self.allow or name in self.allow


class PluginSet:
    """The pluggy manager of one kernel, with discovery, selection and reporting."""

    def __init__(
        self,
        selection: Selection | None = None,
        *,
        discover: bool = True,
        extra: Iterable[tuple[str, object]] = (),
        trace: bool | None = None,
    ) -> None:
        self.selection = selection or Selection()
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        if trace if trace is not None else os.environ.get(ENV_TRACE) == "1":
            self.enable_tracing()
        if discover:
            self._discover()
        for name, plugin in extra:
            self.register(name, plugin)
        unknown = sorted(self.selection.allow - set(self._infos))
        if unknown:
            warnings.warn(
                f"{ENV_PLUGINS} names plugins that are not installed: {', '.join(unknown)}",
                PluginLoadWarning,
                stacklevel=2,
            )
        missing = [p for p in self.selection.prefer if p not in self._infos]
        if missing:
            known = ", ".join(sorted(self._infos)) or "none"
            raise PluginError(f"no plugin named {missing[0]!r} is installed (installed: {known})")

    def enable_tracing(self) -> None:
        """Log every hook call and its result to the ``supervm.hooks`` logger."""
        self.manager.trace.root.setwriter(lambda msg: trace_log.info("%s", msg.rstrip()))
        self.manager.enable_tracing()

    def _discover(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
            version = dist.version if dist is not None else "0"
            if ep.name in self._infos:
                warnings.warn(
                    f"plugin {ep.name!r} from {dist_name} ignored: the name is already taken "
                    f"by {self._infos[ep.name].distribution}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            if not self.selection.enables(ep.name):
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version, (), False)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import failure must not stop the other plugins
                message = f"{type(exc).__name__}: {exc}"
                warnings.warn(
                    f"plugin {ep.name!r} from distribution {dist_name} failed to load: {message}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version, (), False, message)
                continue
            self._register(ep.name, module, dist_name, version)

    def register(self, name: str, plugin: object, distribution: str = "<inline>") -> None:
        """Register an in-process plugin object (tests, embedding), subject to the selection."""
        if not self.selection.enables(name):
            self._infos[name] = PluginInfo(name, distribution, "0", (), False)
            return
        self._register(name, plugin, distribution, "0")

    def _register(self, name: str, plugin: object, distribution: str, version: str) -> None:
        try:
            self.manager.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin {name!r} from {distribution} is invalid: {exc}") from exc
        try:
            # A hookimpl whose name matches no hookspec (a typo) would otherwise never be called.
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(plugin)
            raise PluginError(f"plugin {name!r} from {distribution} is invalid: {exc}") from exc
        hooks = tuple(sorted(h.name for h in self.manager.get_hookcallers(plugin) or ()))
        self._infos[name] = PluginInfo(name, distribution, version, hooks, True)
        log.debug("registered plugin %s (%s %s)", name, distribution, version)

    def infos(self) -> list[PluginInfo]:
        """Every discovered plugin, enabled or not, sorted by name."""
        return [self._infos[k] for k in sorted(self._infos)]

    def enabled_names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [name for name, _ in self.manager.list_name_plugin()]

    def call_per_plugin(self, hook_name: str, registry: object) -> None:
        """Call a register hook once per plugin so each registration names its plugin."""
        for name in self.enabled_names():
            others = [p for n, p in self.manager.list_name_plugin() if n != name]
            caller = self.manager.subset_hook_caller(hook_name, remove_plugins=others)
            if not caller.get_hookimpls():
                continue
            registry.current_plugin = name  # type: ignore[attr-defined]
            try:
                caller(registry=registry)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                registry.current_plugin = "<unknown>"  # type: ignore[attr-defined]

    def call_wrapped(self, hook_name: str, implementation: Callable[[], T], **kwargs: object) -> T:
        """Call a wrapper-only hook: the plugins' wrappers run around ``implementation()``.

        For hooks such as ``supervm_execute_block`` where the kernel does the work and plugins
        may only wrap it (``@hookimpl(wrapper=True)``) to time or trace it. The hook is called
        with ``kwargs``; the result is ``implementation()``'s, as the wrappers pass it on.

        :raises PluginError: if a plugin implements the hook without ``wrapper=True``.
        """
        caller = getattr(self.manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            if not (impl.wrapper or impl.hookwrapper):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} implements {hook_name} without "
                    "wrapper=True: the kernel does the work, plugins may only wrap it"
                )
        result: T = caller.call_extra([implementation], kwargs)
        return result
