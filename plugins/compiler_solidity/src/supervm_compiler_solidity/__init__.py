"""SuperVM plugin: the ``solc`` compiler, Solidity (``.sol``) to EVM artifacts with solc-js.

This module is the plugin itself (the ``supervm.plugins`` entry point ``compiler_solidity``);
the compiler lives in :mod:`supervm_compiler_solidity.compiler`, the Node.js/solc-js plumbing in
:mod:`supervm_compiler_solidity.toolchain` and the project template in
:mod:`supervm_compiler_solidity.scaffold`.
"""

from __future__ import annotations

from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import CompilerRegistry

from .compiler import EVM_VERSIONS, MAX_EVM_VERSION, SolidityCompiler

__all__ = ["EVM_VERSIONS", "MAX_EVM_VERSION", "SolidityCompiler", "supervm_register_compilers"]


@hookimpl
def supervm_register_compilers(registry: CompilerRegistry) -> None:
    """Offer :class:`SolidityCompiler` as ``solc`` for ``.sol`` files."""
    registry.add_compiler("solc", SolidityCompiler())
