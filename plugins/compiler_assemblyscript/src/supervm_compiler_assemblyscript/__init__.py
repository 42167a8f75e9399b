"""SuperVM plugin: the ``assemblyscript`` compiler, AssemblyScript (``.ts``) to WASM artifacts.

This module is the plugin itself (the ``supervm.plugins`` entry point
``compiler_assemblyscript``); the compiler lives in :mod:`.compiler`, the Node.js/asc plumbing
in :mod:`.toolchain`, WebAssembly post-processing in :mod:`.wasm` and the project template in
:mod:`.scaffold`. Contracts use the npm package ``@supervm/sdk`` (``sdk/assemblyscript``).
"""

from __future__ import annotations

from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import CompilerRegistry

from .compiler import AssemblyScriptCompiler

__all__ = ["AssemblyScriptCompiler", "supervm_register_compilers"]


@hookimpl
def supervm_register_compilers(registry: CompilerRegistry) -> None:
    """Offer :class:`AssemblyScriptCompiler` as ``assemblyscript`` for ``.ts`` files."""
    registry.add_compiler("assemblyscript", AssemblyScriptCompiler())
