"""The one place that says which EVM version SuperVM's EVM backends run.

The backends (revm through pyrevm, and py-evm, in the evm_revm_bridge plugin) implement the
Cancun rules and nothing newer: pyrevm 0.3.7 bundles revm 8, whose newest complete fork is
Cancun. The Solidity compiler plugin compiles for this version by default and refuses a newer
one (solc 0.8.37 itself defaults to osaka, whose code uses opcodes revm 8 does not have). It is
the kernel's, so that neither plugin has to import the other.
"""

from __future__ import annotations

from typing import Final

#: The EVM version, as solc's ``evmVersion`` setting spells it.
EVM_VERSION: Final = "cancun"

#: solc's EVM versions, oldest first, for comparing a requested version with :data:`EVM_VERSION`.
SOLC_EVM_VERSIONS: Final = (
    "homestead", "tangerineWhistle", "spuriousDragon", "byzantium", "constantinople",
    "petersburg", "istanbul", "berlin", "london", "paris", "shanghai", "cancun", "prague",
    "osaka",
)  # fmt: skip


def is_supported(evm_version: str) -> bool:
    """Whether code compiled for ``evm_version`` (solc's spelling) runs on the backends."""
    if evm_version not in SOLC_EVM_VERSIONS:
        return False
    return SOLC_EVM_VERSIONS.index(evm_version) <= SOLC_EVM_VERSIONS.index(EVM_VERSION)


__all__ = ["EVM_VERSION", "SOLC_EVM_VERSIONS", "is_supported"]
