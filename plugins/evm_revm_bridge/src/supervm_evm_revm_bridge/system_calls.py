"""Ethereum's system calls before a block's transactions (EIP-4788, Cancun).

At the start of every block that has a parent beacon block root, Ethereum calls the beacon
roots contract from the system address with that root as calldata and 30,000,000 gas, outside
any transaction: no gas is bought or counted in the block, no nonce is bumped, and the system
address, left empty, is not created (EIP-161). The contract keeps the last 8191 roots by
timestamp. A chain without the contract (SuperVM's own chains, unless their genesis puts it
there) is unaffected: the call is skipped when the address holds no code, which is what
Ethereum's call to a code-less account amounts to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv, ExecutionContext

if TYPE_CHECKING:
    from supervm.chain.blocks import BlockHeader
    from supervm.state.world import WorldState

#: EIP-4788's contract and caller.
BEACON_ROOTS_ADDRESS: Final = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")
SYSTEM_ADDRESS: Final = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
SYSTEM_CALL_GAS: Final = 30_000_000


def beacon_roots_call(header: BlockHeader, state: WorldState) -> None:
    """Run EIP-4788's system call for the block ``header`` on ``state``, if it applies."""
    root = header.parent_beacon_block_root
    if root is None:
        return
    code = state.code(BEACON_ROOTS_ADDRESS)
    if not code or code[:4] == b"\0asm":
        return
    from .revm_backend import RevmBackend

    env = BlockEnv(
        chain_id=1,  # the contract does not read it; the header does not carry it
        number=header.number,
        timestamp=header.timestamp,
        coinbase=header.coinbase,
        gas_limit=header.gas_limit,
        base_fee=header.base_fee_per_gas or 0,
        prev_randao=header.mix_hash,
        excess_blob_gas=header.excess_blob_gas,
        parent_beacon_block_root=root,
    )
    context = ExecutionContext(
        block_number=header.number,
        timestamp=header.timestamp,
        caller=SYSTEM_ADDRESS,
        address=BEACON_ROOTS_ADDRESS,
        gas_limit=SYSTEM_CALL_GAS,
        origin=SYSTEM_ADDRESS,
        env=env,
    )
    backend = RevmBackend(VMSettings())
    try:
        backend.execute(code, state, context, input=root)
    finally:
        backend.close()
