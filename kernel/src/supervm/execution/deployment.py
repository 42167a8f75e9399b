"""Contract deployment outside a transaction: what an embedder's ``Kernel.deploy`` returns.

A deployment stores the code by hash at the address Ethereum's ``CREATE`` would give
(:func:`~supervm.state.addresses.create_address`), bumps the deployer's nonce and runs the code's
optional ``deploy`` export once with the ABI-encoded constructor arguments as its input, like a
Solidity constructor. All of it is one snapshot: if ``deploy`` fails, nothing is stored and the
nonce is unchanged.
"""

from __future__ import annotations

import attrs

from supervm.model import ExecutionResult

#: The export a deployment runs once, if the code has it.
DEPLOY_ENTRY = "deploy"


@attrs.frozen
class Deployment:
    """The outcome of deploying a contract.

    :param address: where the contract lives (also set when ``deploy`` failed).
    :param result: the result of the ``deploy`` export (empty success if there is none).
    """

    address: bytes
    result: ExecutionResult

    @property
    def ok(self) -> bool:
        """Whether the contract was deployed."""
        return self.result.ok
