"""SuperVM's WebAssembly execution backend on wasmtime, and SuperVM's host ABI.

This module is the plugin: the kernel finds it through the ``supervm.plugins`` entry point.
"""

from __future__ import annotations

from supervm import hookimpl
from supervm.plugins.registry import CommandRegistry, HostFunctionRegistry, VMRegistry

from .abi import core_functions
from .backend import WasmtimeBackend
from .calls import call_functions
from .crypto import crypto_functions

__all__ = ["WasmtimeBackend"]


@hookimpl
def supervm_register_host_functions(registry: HostFunctionRegistry) -> None:
    """Register the core host ABI, the calls between contracts and the crypto functions."""
    for fn in (*core_functions(), *call_functions(), *crypto_functions()):
        registry.add_host_function(fn)


@hookimpl
def supervm_register_vm(registry: VMRegistry) -> None:
    """Register the wasmtime backend as ``wasm``."""
    registry.add_vm("wasm", WasmtimeBackend)


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Add ``supervm wasm run``, ``supervm demo`` and ``supervm bench wasm-call``."""
    from .bench import wasm_call_command
    from .cli import demo_command, wasm_group

    registry.add_command(wasm_group)
    registry.add_command(demo_command)
    registry.add_command(wasm_call_command, group="bench")
