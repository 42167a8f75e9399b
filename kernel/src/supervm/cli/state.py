"""The kernel of one ``supervm`` invocation, shared by every subcommand."""

from __future__ import annotations

import click

from supervm.cli.logs import configure_logging
from supervm.execution.interfaces import SchedulerSettings, VMSettings
from supervm.kernel import Kernel


class KernelState:
    """The kernel of one command invocation, built on first use from the global options."""

    def __init__(
        self,
        plugins: tuple[str, ...],
        trace: bool,
        kernel: Kernel | None = None,
        workers: int | None = None,
        vm_options: tuple[str, ...] = (),
    ) -> None:
        self.plugin_args = plugins
        self.trace = trace
        self.workers = workers
        self.vm_options = vm_options
        self._kernel = kernel

    @property
    def kernel(self) -> Kernel:
        """The kernel, with the plugins chosen by ``--plugin`` and ``SUPERVM_PLUGINS``."""
        if self._kernel is None:
            self._kernel = Kernel.from_plugins(self.plugin_args, trace=self.trace or None)
            if self.workers is not None:
                self._kernel.scheduler_settings = SchedulerSettings(workers=self.workers)
            if self.vm_options:
                self._kernel.vm_settings = VMSettings(options=parse_vm_options(self.vm_options))
        return self._kernel

    def close(self) -> None:
        """Close the kernel if it was built."""
        if self._kernel is not None:
            self._kernel.close()


def parse_vm_options(values: tuple[str, ...]) -> dict[str, str]:
    """``--vm-option KEY=VALUE`` values as a dict; a clear usage error for a malformed one."""
    options: dict[str, str] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"{value!r} is not KEY=VALUE (for example evm=pyevm)", param_hint="--vm-option"
            )
        options[key] = setting
    return options


def kernel_state(ctx: click.Context) -> KernelState:
    """The :class:`KernelState` of the running command, made from the global options.

    Click looks a subcommand up before it runs the group's callback, and plugin commands are
    found through the kernel, so the state may be needed before the callback: it is made here,
    once, from the root context's parsed options, whichever asks first.
    """
    state = ctx.find_object(KernelState)
    if state is not None:
        return state
    root = ctx.find_root()
    params = root.params
    configure_logging(
        int(params.get("verbose") or 0) + (1 if params.get("trace_hooks") else 0),
        as_json=bool(params.get("log_json")),
    )
    state = KernelState(
        tuple(params.get("plugins") or ()),
        bool(params.get("trace_hooks")),
        workers=params.get("workers"),
        vm_options=tuple(params.get("vm_options") or ()),
    )
    root.obj = state
    root.call_on_close(state.close)
    return state
