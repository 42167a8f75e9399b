"""SuperVM's native execution core (plugin ``wasm_native``).

Registers the execution backend ``wasm-native``: the wasmtime backend with the host ABI's hot
functions in C (``supervm --plugin wasm_native`` makes it the default VM), and the command
``supervm native``, which says whether the native core is available here, and the benchmark
``supervm bench native-erc20``. See docs/native.md.
"""

from __future__ import annotations

import click
from supervm import hookimpl
from supervm.plugins.registry import CommandRegistry, VMRegistry

from .backend import NativeWasmBackend
from .binding import NativeStatus, NativeUnavailableError, native_status

__all__ = ["NativeStatus", "NativeUnavailableError", "NativeWasmBackend", "native_status"]


@hookimpl
def supervm_register_vm(registry: VMRegistry) -> None:
    """Register the native backend as ``wasm-native``."""
    registry.add_vm("wasm-native", NativeWasmBackend)


@click.command("native")
def native_command() -> None:
    """Whether the native execution core is available, and which host functions it runs."""
    status = native_status()
    click.echo(status.describe())
    if status.available:
        from .binding import native_module

        names = ", ".join(name for name, _, _ in native_module().native_functions())
        click.echo(f"host functions in C: {names}")
        click.echo("other host functions run on the Python path (backend 'wasm')")


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Add ``supervm native`` and ``supervm bench native-erc20``."""
    from .bench import native_erc20_command

    registry.add_command(native_command)
    registry.add_command(native_erc20_command, group="bench")
