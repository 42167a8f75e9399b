"""What building a block and importing one share: executing its transactions and committing it.

Both run a block's transactions through the selected scheduler on a fresh
:class:`~supervm.state.world.WorldState`, make the receipts, fold the state changes into the
state root, and write the state changes, the new trie nodes, the block, its receipts, the
transaction index and the new head in **one** storage batch (:func:`commit_block`). The builder
then fills a header with the results; the importer compares them with the header it was given.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from supervm.chain.blocks import Block, BlockHeader
from supervm.chain.processor import BlockEnv, TransactionExecutor, TransactionResult
from supervm.chain.receipts import Receipt, encode_receipt, merge_blooms
from supervm.chain.store import ChainStore
from supervm.chain.transactions import Transaction
from supervm.execution.interfaces import Scheduler
from supervm.state.commitment import TRIE_NODE_PREFIX, root_changes
from supervm.state.root import StateRoot
from supervm.state.storage import Change, Storage
from supervm.state.world import WorldState

if TYPE_CHECKING:
    from supervm.kernel import Kernel

#: EIP-1559: the base fee moves by at most 1/8 a block, towards half-full blocks.
BASE_FEE_CHANGE_DENOMINATOR = 8
ELASTICITY_MULTIPLIER = 2
#: A block's gas limit moves by less than 1/1024 of its parent's.
GAS_LIMIT_BOUND_DIVISOR = 1024
MIN_GAS_LIMIT = 5000


def next_base_fee(parent: BlockHeader) -> int:
    """The base fee a child of ``parent`` must carry (EIP-1559)."""
    base_fee = parent.base_fee_per_gas or 0
    target = parent.gas_limit // ELASTICITY_MULTIPLIER
    if target == 0 or parent.gas_used == target:
        return base_fee
    if parent.gas_used > target:
        delta = base_fee * (parent.gas_used - target) // target // BASE_FEE_CHANGE_DENOMINATOR
        return base_fee + max(delta, 1)
    delta = base_fee * (target - parent.gas_used) // target // BASE_FEE_CHANGE_DENOMINATOR
    return base_fee - delta


#: How far back EVM's ``BLOCKHASH`` sees.
BLOCK_HASH_WINDOW = 256


def env_for(header: BlockHeader, chain_id: int, store: ChainStore | None = None) -> BlockEnv:
    """The environment the transactions of the block ``header`` describes run in.

    :param header: the block's header.
    :param chain_id: the chain's id.
    :param store: where the block's ancestors are, for the recent block hashes; without it the
        environment knows none.
    """
    return BlockEnv(
        chain_id=chain_id,
        number=header.number,
        timestamp=header.timestamp,
        coinbase=header.coinbase,
        gas_limit=header.gas_limit,
        base_fee=header.base_fee_per_gas or 0,
        prev_randao=header.mix_hash,
        block_hashes=() if store is None else recent_hashes(store, header),
        excess_blob_gas=header.excess_blob_gas,
        parent_beacon_block_root=header.parent_beacon_block_root,
    )


def recent_hashes(store: ChainStore, header: BlockHeader) -> tuple[bytes, ...]:
    """The hashes of ``header``'s ancestors, its parent first, at most 256.

    Walked by parent hash, not read from the canonical index, so a block on a side chain sees
    its own ancestors.
    """
    hashes: list[bytes] = []
    parent_hash = header.parent_hash
    for _ in range(min(header.number, BLOCK_HASH_WINDOW)):
        hashes.append(parent_hash)
        parent = store.header(parent_hash)
        if parent is None:
            break
        parent_hash = parent.parent_hash
    return tuple(hashes)


@attrs.frozen
class ExecutedBlock:
    """A block's transactions executed on the parent state, not yet committed.

    :param transactions: the transactions included, in order.
    :param results: their results (rejected transactions are left out).
    :param receipts: their receipts.
    :param receipt_encodings: the receipts' consensus encodings (made once, for the receipts
        root and the store).
    :param rejected: the transactions left out, with why.
    :param gas_used: the block's gas.
    :param logs_bloom: the bloom of every log in the block.
    :param state_root: the state root after the block.
    :param state: the block's buffered state changes.
    :param nodes: the trie nodes the new root needs stored.
    :param timings: seconds spent per step: ``execution``, ``receipts``, ``state_root``.
    """

    transactions: tuple[Transaction, ...]
    results: tuple[TransactionResult, ...]
    receipts: tuple[Receipt, ...]
    receipt_encodings: tuple[bytes, ...]
    rejected: tuple[tuple[Transaction, str], ...]
    gas_used: int
    logs_bloom: bytes
    state_root: bytes
    state: WorldState
    nodes: dict[bytes, bytes]
    timings: Mapping[str, float] = attrs.field(factory=dict)


def execute(
    kernel: Kernel,
    storage: Storage,
    root: StateRoot,
    scheduler: Scheduler,
    header: BlockHeader,
    env: BlockEnv,
    transactions: Sequence[Transaction],
) -> ExecutedBlock:
    """Run ``transactions`` on the state in ``storage`` and work out the block's results.

    Plugins' ``supervm_before_block`` run first, on the same state. ``root`` is advanced to the
    new state root; if the block is then not committed, the caller must reopen it from the
    parent's root.
    """
    started = time.perf_counter()
    state = WorldState(storage)
    kernel.plugins.manager.hook.supervm_before_block(header=header, state=state)
    outcome = scheduler.run_block(transactions, state, TransactionExecutor(kernel, env))
    executed_at = time.perf_counter()
    included: list[Transaction] = []
    results: list[TransactionResult] = []
    receipts: list[Receipt] = []
    rejected: list[tuple[Transaction, str]] = []
    cumulative = 0
    for tx, result in zip(transactions, outcome.results, strict=True):
        assert isinstance(result, TransactionResult)
        if result.rejected is not None:
            rejected.append((tx, result.rejected))
            continue
        cumulative += result.gas_used
        included.append(tx)
        results.append(result)
        receipts.append(
            Receipt(
                tx_type=tx.type,
                status=result.status,
                cumulative_gas_used=cumulative,
                logs=result.logs,
            )
        )
    bloom = merge_blooms(r.logs_bloom for r in receipts)
    encodings = tuple(encode_receipt(r) for r in receipts)
    receipts_at = time.perf_counter()
    accounts, evm, wasm = root_changes(state.changes(), state.peek)
    state_root = root.apply(accounts, evm, wasm_storage=wasm)
    nodes = root.commit()
    done = time.perf_counter()
    return ExecutedBlock(
        transactions=tuple(included),
        results=tuple(results),
        receipts=tuple(receipts),
        receipt_encodings=encodings,
        rejected=tuple(rejected),
        gas_used=cumulative,
        logs_bloom=bloom,
        state_root=state_root,
        state=state,
        nodes=nodes,
        timings={
            "execution": executed_at - started,
            "receipts": receipts_at - executed_at,
            "state_root": done - receipts_at,
        },
    )


def commit_block(
    storage: Storage,
    store: ChainStore,
    block: Block,
    executed: ExecutedBlock,
    *,
    raw: bytes | None = None,
) -> None:
    """Write the block, its state changes and trie nodes, and the new head in one batch."""
    batch: list[Change] = executed.state.resolved_changes()
    batch += [(TRIE_NODE_PREFIX + h, node) for h, node in executed.nodes.items()]
    batch += store.block_changes(block, executed.receipt_encodings, raw=raw)
    storage.write_batch(batch)
    executed.state.discard()
