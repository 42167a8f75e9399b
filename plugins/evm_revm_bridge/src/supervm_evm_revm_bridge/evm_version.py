"""The EVM version the backends run, in the names each tool spells it with.

The version itself is the kernel's (:mod:`supervm.execution.evm_version`, which the Solidity
compiler plugin reads too); this module adds revm's and the Ethereum test suite's names for it.
"""

from __future__ import annotations

from typing import Final

from supervm.execution.evm_version import EVM_VERSION, SOLC_EVM_VERSIONS, is_supported

#: revm's name for the fork, as pyrevm's ``EVM(spec_id=...)`` takes it. revm 8 parses spec
#: names with ``SpecId::from(&str)``, which knows ``"Cancun"`` and maps every string it does not
#: know, ``"CANCUN"`` included, to ``LATEST`` without complaint (measured: the journal's
#: ``spec`` then reads ``LATEST``, and ``"Frontier"`` refuses PUSH0 where ``"FRONTIER"`` does
#: not). So the capitalisation here matters.
REVM_SPEC_ID: Final = "Cancun"

#: The Ethereum test suite's name for the fork (``network`` in BlockchainTests).
TEST_NETWORK: Final = "Cancun"

__all__ = ["EVM_VERSION", "REVM_SPEC_ID", "SOLC_EVM_VERSIONS", "TEST_NETWORK", "is_supported"]
