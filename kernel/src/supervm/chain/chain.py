"""A chain on one storage: genesis, the head, and the two ways a block is added.

:class:`Chain` ties the chain store, the state root and the kernel's scheduler together.
:meth:`Chain.build_block` (the :class:`BlockBuilder`'s job) takes transactions in order,
executes them and produces a block with every root; :meth:`Chain.import_block` (the
:class:`BlockImporter`'s) re-executes a received block and refuses it, naming the first
difference, unless its roots, gas and receipts are what its header says. Either way the block
is committed in one storage batch.

A block may extend any stored block, not only the head: it runs on its parent's state (the
flat state for the head, the parent's state root's tries otherwise), is stored, and becomes
the head if the consensus engine's fork choice prefers it, the canonical chain moving to its
branch in the same batch (:mod:`supervm.chain.forks`). A branch that would revert a block the
engine calls final is refused (:class:`FinalityError`); a block whose parent is not stored
raises :class:`UnknownParentError`, so that a network layer can fetch the missing blocks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.chain.blocks import (
    EMPTY_OMMERS_HASH,
    EMPTY_TRIE_ROOT,
    Block,
    BlockError,
    BlockHeader,
    decode_block,
    ordered_trie_root,
    transactions_root,
)
from supervm.chain.consensus import ConsensusSettings
from supervm.chain.forks import (
    HEAD,
    KNOWN,
    SIDE,
    ChainBlock,
    ForkError,
    HeadChange,
    ImportOutcome,
    Status,
    branch,
    code_changes,
    common_ancestor,
    is_state_key,
    reorg_changes,
)
from supervm.chain.genesis import Genesis, parse_genesis
from supervm.chain.pipeline import (
    GAS_LIMIT_BOUND_DIVISOR,
    MIN_GAS_LIMIT,
    ExecutedBlock,
    env_for,
    execute,
    next_base_fee,
)
from supervm.chain.receipts import Receipt
from supervm.chain.senders import SenderRecovery
from supervm.chain.store import CONFIG_KEY, ChainStore
from supervm.chain.transactions import (
    MAX_BLOB_GAS_PER_BLOCK,
    Transaction,
    TransactionError,
    next_excess_blob_gas,
    validate_transaction,
)
from supervm.errors import SuperVMError
from supervm.execution.interfaces import Scheduler
from supervm.execution.snapshot import gc_paused
from supervm.state.commitment import TRIE_NODE_PREFIX, root_changes
from supervm.state.historical import HistoricalStorage
from supervm.state.root import StateRoot
from supervm.state.storage import Change, Storage
from supervm.state.world import WorldState

if TYPE_CHECKING:
    from supervm.kernel import Kernel

log = logging.getLogger("supervm.chain")


class ChainError(SuperVMError):
    """The chain cannot do what was asked (no genesis, a second genesis, ...)."""


class BlockImportError(SuperVMError):
    """A received block is invalid; the message names the first difference found."""


class UnknownParentError(BlockImportError):
    """A block whose parent the chain does not have: fetch the parent (sync), then retry.

    :param number: the block's number.
    :param block_hash: the block's hash.
    :param parent_hash: the missing parent's hash.
    """

    def __init__(self, number: int, block_hash: bytes, parent_hash: bytes) -> None:
        super().__init__(
            f"block {number} (0x{block_hash.hex()}): its parent 0x{parent_hash.hex()} is unknown"
        )
        self.number = number
        self.block_hash = block_hash
        self.parent_hash = parent_hash


class FinalityError(BlockImportError):
    """A block on a branch that forks below a final block: taking it would revert that block,
    which the consensus engine says can no longer happen."""


@attrs.frozen
class _ParentState:
    """Where a block runs: the flat head state, or a parent's state read through its tries."""

    parent: BlockHeader
    storage: Storage
    root: StateRoot
    scheduler: Scheduler
    is_head: bool


@attrs.frozen
class BuiltBlock:
    """A block the builder made and committed.

    :param block: the block.
    :param receipts: its receipts, in transaction order.
    :param executed: what executing it produced (results, rejected transactions).
    :param deferred: transactions left for a later block because their gas limits did not fit
        the room left in this one.
    :param outcome: whether the block became the head (it does, built on the head, unless
        the engine's fork choice says otherwise) and how the head moved.
    """

    block: Block
    receipts: tuple[Receipt, ...]
    executed: ExecutedBlock
    deferred: tuple[Transaction, ...] = ()
    outcome: ImportOutcome | None = None


class Chain:
    """The chain stored in ``storage``, extended by building or importing blocks."""

    def __init__(
        self,
        kernel: Kernel,
        storage: Storage,
        *,
        chain_id: int | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.kernel = kernel
        self.storage = storage
        self.store = ChainStore(storage)
        head = self.store.head()
        if head is None:
            raise ChainError("the storage holds no chain: initialise it from a genesis file")
        self._head = head
        self.genesis = parse_genesis(json.loads(self.store.config() or b"{}"))
        missing = [p for p in self.genesis.plugins if p not in kernel.plugins.enabled_names()]
        if missing:
            raise ChainError(
                f"the chain's genesis needs the plugin {missing[0]!r}, which is not enabled "
                "(see `supervm plugins`)"
            )
        self.chain_id = chain_id if chain_id is not None else self.genesis.chain_id
        consensus = self.genesis.consensus
        self.consensus = kernel.consensus(
            consensus.engine, ConsensusSettings(consensus.validators, consensus.options)
        )
        self.scheduler = scheduler or kernel.scheduler()
        self._senders = SenderRecovery()
        self._root = self._open_root(head.state_root)
        #: Seconds the last block spent per step (``execution``, ``receipts``, ``state_root``,
        #: ``roots`` for the transactions and receipts tries, ``commit``; for an imported
        #: block also ``decode`` and ``recover``), for benchmarks.
        self.last_timings: dict[str, float] = {}

    # -- genesis ------------------------------------------------------------------------------

    @classmethod
    def initialise(
        cls,
        kernel: Kernel,
        storage: Storage,
        genesis: Genesis,
        genesis_file: bytes,
        *,
        scheduler: Scheduler | None = None,
    ) -> Chain:
        """Write the genesis state and block to an empty storage, and open the chain."""
        store = ChainStore(storage)
        if store.head_hash() is not None:
            raise ChainError("the storage already holds a chain")
        if next(iter(storage.iterate()), None) is not None:
            raise ChainError("the storage is not empty")
        header, state, nodes = genesis_block(genesis, storage)
        batch = state.resolved_changes()
        batch += [(TRIE_NODE_PREFIX + h, node) for h, node in nodes.items()]
        batch += store.block_changes(Block(header, withdrawals=()), ())
        batch.append((CONFIG_KEY, genesis_file))
        storage.write_batch(batch)
        return cls(kernel, storage, chain_id=genesis.chain_id, scheduler=scheduler)

    # -- reading ------------------------------------------------------------------------------

    @property
    def head(self) -> BlockHeader:
        """The canonical head's header."""
        return self._head

    def state(self) -> WorldState:
        """A world state over the head's state (for reading; its changes are never committed)."""
        return WorldState(self.storage)

    def state_root(self) -> StateRoot:
        """The head's state root, for proofs (``eth_getProof``)."""
        return self._root

    # -- building -----------------------------------------------------------------------------

    def build_block(
        self,
        transactions: Iterable[Transaction],
        *,
        timestamp: int,
        coinbase: bytes = bytes(20),
        extra_data: bytes = b"",
        gas_limit: int | None = None,
        mix_hash: bytes = bytes(32),
        key: bytes = b"",
        parent: BlockHeader | None = None,
    ) -> BuiltBlock:
        """Execute ``transactions`` on the head (or on ``parent``), make the next block and
        commit it.

        Transactions are taken in order while their gas limits fit the block's (the others are
        returned as ``deferred``: the gas they will use is known only once they run, so the
        block reserves their whole limit); those that cannot be included (a wrong nonce, too
        little balance) are left out and reported in ``executed.rejected``. The consensus
        engine prepares the header and seals it with ``key`` (the sealer's private key; the dev
        engine needs none). ``gas_limit`` is a target: the block's limit moves toward it by
        as much as the rule allows (under 1/1024 of the parent's per block).

        :param parent: a stored block to build on instead of the head (tests, and sealers that
            build on another branch); the block becomes the head only if fork choice says so.
        :raises FinalityError: if ``parent`` forks below a final block.
        """
        parent = self._head if parent is None else parent
        if parent.hash != self._head.hash:
            if not self.store.has_block(parent.hash):
                raise ChainError(f"block {parent.number} (0x{parent.hash.hex()}) is not stored")
            self._check_fork(parent, parent.number + 1)
        if timestamp <= parent.timestamp:
            timestamp = parent.timestamp + 1
        limit = _toward(parent.gas_limit, gas_limit if gas_limit is not None else parent.gas_limit)
        chosen: list[Transaction] = []
        deferred: list[Transaction] = []
        room, blob_room = limit, MAX_BLOB_GAS_PER_BLOCK
        for tx in transactions:
            if tx.gas <= room and tx.blob_gas <= blob_room:
                chosen.append(tx)
                room -= tx.gas
                blob_room -= tx.blob_gas
            else:
                deferred.append(tx)
        draft = BlockHeader(
            parent_hash=parent.hash,
            coinbase=coinbase,
            state_root=parent.state_root,
            number=parent.number + 1,
            gas_limit=limit,
            timestamp=timestamp,
            extra_data=extra_data,
            mix_hash=mix_hash,
            base_fee_per_gas=next_base_fee(parent),
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=0,
            excess_blob_gas=next_excess_blob_gas(parent.excess_blob_gas, parent.blob_gas_used),
            parent_beacon_block_root=bytes(32),
        )
        draft = self.consensus.prepare(draft, parent, chain=self.store)
        base = self._parent_state(parent)
        executed = self._execute(draft, chosen, base)
        try:
            roots_started = time.perf_counter()
            tx_root = transactions_root(executed.transactions)
            header = attrs.evolve(
                draft,
                state_root=executed.state_root,
                transactions_root=tx_root,
                receipts_root=ordered_trie_root(executed.receipt_encodings),
                logs_bloom=executed.logs_bloom,
                gas_used=executed.gas_used,
                blob_gas_used=sum(tx.blob_gas for tx in executed.transactions),
            )
            roots = time.perf_counter() - roots_started
            header = self.consensus.seal(header, key)
        except BaseException:
            self._forget(base)
            raise
        block = Block(header, executed.transactions, withdrawals=())
        outcome = self._commit(block, executed, base, roots=roots)
        return BuiltBlock(block, executed.receipts, executed, tuple(deferred), outcome)

    # -- importing ----------------------------------------------------------------------------

    def import_block(self, block: Block | bytes) -> tuple[Receipt, ...]:
        """Validate ``block`` by re-executing it on its parent's state and store it; it becomes
        the head if fork choice prefers it. Returns its receipts (:meth:`insert_block` says
        what else happened).

        :raises UnknownParentError: if its parent is not stored; nothing is written.
        :raises FinalityError: if its branch forks below a final block; nothing is written.
        :raises BlockImportError: naming the first difference; nothing is written.
        """
        return self.insert_block(block).receipts

    def insert_block(self, block: Block | bytes) -> ImportOutcome:
        """:meth:`import_block`, returning what happened: whether the block became the head
        or went to a side chain (or was known already), and how the head moved."""
        raw = block if isinstance(block, bytes) else None
        started = time.perf_counter()
        if isinstance(block, bytes):
            try:
                block = decode_block(block, recover=False, chain_id=self.chain_id)
            except SuperVMError as exc:
                raise BlockImportError(f"undecodable block: {exc}") from None
        decoded = time.perf_counter()
        header = block.header
        if self.store.has_block(header.hash):
            receipts = self.store.receipts(header.hash) or []
            return ImportOutcome(block, tuple(receipts), KNOWN)
        if header.parent_hash == self._head.hash:
            parent = self._head
        else:
            stored = self.store.header(header.parent_hash)
            if stored is None:
                raise UnknownParentError(header.number, header.hash, header.parent_hash)
            parent = stored
        self._check_header(header, parent)
        if parent.hash != self._head.hash:
            self._check_fork(parent, header.number)
        try:
            self.consensus.verify_seal(header, parent, chain=self.store)
        except SuperVMError as exc:
            message = str(exc)  # engines usually name the block themselves
            if not message.startswith(f"block {header.number}"):
                message = f"block {header.number}: {message}"
            raise BlockImportError(message) from None
        if block.ommers or block.withdrawals:
            raise BlockImportError(
                f"block {header.number}: SuperVM blocks have no ommers and no withdrawals"
            )
        # With no ommers and no withdrawals, the header must commit to empty ones.
        _same(header, "ommers hash", header.ommers_hash, EMPTY_OMMERS_HASH)
        _same(header, "withdrawals root", header.withdrawals_root, EMPTY_TRIE_ROOT)
        roots_started = time.perf_counter()
        computed_tx_root = transactions_root(block.transactions)
        _same(header, "transactions root", header.transactions_root, computed_tx_root)
        roots = time.perf_counter() - roots_started
        recovering = time.perf_counter()
        self._senders.recover(block.transactions)
        for index, tx in enumerate(block.transactions):
            try:  # the stateless rules, the signature among them
                validate_transaction(tx, chain_id=self.chain_id)
            except TransactionError as exc:
                raise BlockImportError(
                    f"block {header.number}: transaction {index} is invalid: {exc}"
                ) from None
        checked = {"decode": decoded - started, "recover": time.perf_counter() - recovering}
        base = self._parent_state(parent)
        executed = self._execute(header, list(block.transactions), base)
        try:
            if executed.rejected:
                tx, why = executed.rejected[0]
                index = block.transactions.index(tx)
                raise BlockImportError(
                    f"block {header.number}: transaction {index} (0x{tx.hash.hex()}) is "
                    f"invalid: {why}"
                )
            before = 0
            for index, (tx, result) in enumerate(
                zip(executed.transactions, executed.results, strict=True)
            ):
                if before + tx.gas > header.gas_limit:
                    raise BlockImportError(
                        f"block {header.number}: transaction {index} needs {tx.gas} gas, above "
                        f"the {header.gas_limit - before} the block has left"
                    )
                before += result.gas_used
            _same(header, "gas used", header.gas_used, executed.gas_used)
            blob_gas = sum(tx.blob_gas for tx in executed.transactions)
            _same(header, "blob gas used", header.blob_gas_used or 0, blob_gas)
            roots_started = time.perf_counter()
            computed_receipts_root = ordered_trie_root(executed.receipt_encodings)
            roots += time.perf_counter() - roots_started
            _same(header, "receipts root", header.receipts_root, computed_receipts_root)
            _same(header, "logs bloom", header.logs_bloom, executed.logs_bloom)
            _same(header, "state root", header.state_root, executed.state_root)
        except BlockImportError:
            self._forget(base)  # forget the rejected changes
            raise
        return self._commit(block, executed, base, raw=raw, roots=roots, checked=checked)

    def _check_header(self, header: BlockHeader, parent: BlockHeader) -> None:
        number = header.number
        _same(header, "number", number, parent.number + 1)
        if header.timestamp <= parent.timestamp:
            raise BlockImportError(
                f"block {number}: timestamp {header.timestamp} is not after its parent's "
                f"{parent.timestamp}"
            )
        bound = parent.gas_limit // GAS_LIMIT_BOUND_DIVISOR
        if abs(header.gas_limit - parent.gas_limit) >= bound or header.gas_limit < MIN_GAS_LIMIT:
            raise BlockImportError(
                f"block {number}: gas limit {header.gas_limit} moves too far from its "
                f"parent's {parent.gas_limit} (by less than {bound} a block, at least "
                f"{MIN_GAS_LIMIT})"
            )
        if header.gas_used > header.gas_limit:
            raise BlockImportError(
                f"block {number}: gas used {header.gas_used} above the gas limit {header.gas_limit}"
            )
        _same(header, "base fee", header.base_fee_per_gas, next_base_fee(parent))
        if (header.blob_gas_used or 0) > MAX_BLOB_GAS_PER_BLOCK:
            raise BlockImportError(
                f"block {number}: blob gas used {header.blob_gas_used} above the limit of "
                f"{MAX_BLOB_GAS_PER_BLOCK}"
            )
        excess = next_excess_blob_gas(parent.excess_blob_gas, parent.blob_gas_used)
        _same(header, "excess blob gas", header.excess_blob_gas or 0, excess)

    def _check_fork(self, parent: BlockHeader, number: int) -> None:
        """Refuse a block on ``parent``, not the head, if its branch forks below a final block
        (taking it would revert that block, so it can never become the head)."""
        head = self._head
        try:
            ancestor = common_ancestor(self.store, head, parent)
        except ForkError as exc:
            raise BlockImportError(f"block {number}: {exc}") from None
        if ancestor.hash == head.hash:
            return  # it extends the head's chain
        first = self.store.header_by_number(ancestor.number + 1)
        if first is not None and self.consensus.is_final(first, head, chain=self.store):
            raise FinalityError(
                f"block {number}: its branch forks from the chain at block {ancestor.number} "
                f"(0x{ancestor.hash.hex()}), below final block {first.number} "
                f"(0x{first.hash.hex()}); a final block is never reverted"
            )

    # -- shared -------------------------------------------------------------------------------

    def _parent_state(self, parent: BlockHeader) -> _ParentState:
        if parent.hash == self._head.hash:
            return _ParentState(parent, self.storage, self._root, self.scheduler, True)
        # A side chain's block runs on its parent's state read through the tries, with the
        # serial scheduler: a parallel one mirrors the flat state in its workers.
        storage = HistoricalStorage(self._open_root(parent.state_root), self.storage)
        root = self._open_root(parent.state_root)
        return _ParentState(parent, storage, root, SerialScheduler(), False)

    def _forget(self, base: _ParentState) -> None:
        """Drop what executing a block that is not committed did to the head's state root."""
        if base.is_head:
            self._root = self._open_root(self._head.state_root)

    def _execute(
        self, header: BlockHeader, transactions: Sequence[Transaction], base: _ParentState
    ) -> ExecutedBlock:
        env = env_for(header, self.chain_id, self.store)

        def run() -> ExecutedBlock:
            return execute(
                self.kernel, base.storage, base.root, base.scheduler, header, env, transactions
            )

        # A block makes many objects that live until its commit: the collector's scans would
        # cost more than they free (see execution.snapshot.gc_paused).
        try:
            with gc_paused():
                return self.kernel.plugins.call_wrapped(
                    "supervm_execute_block", run, header=header, transactions=transactions
                )
        except BaseException:
            self._forget(base)
            raise

    def _commit(
        self,
        block: Block,
        executed: ExecutedBlock,
        base: _ParentState,
        *,
        raw: bytes | None = None,
        roots: float,
        checked: Mapping[str, float] | None = None,
    ) -> ImportOutcome:
        """Store ``block`` in one batch: as the new head, on a side chain, or as the new head
        of another branch (a reorg), as fork choice decides."""
        started = time.perf_counter()
        header = block.header
        old_head = self._head
        try:
            with gc_paused():
                winner = self.consensus.fork_choice(old_head, header, chain=self.store)
                becomes_head = winner.hash == header.hash
                changes = executed.state.resolved_changes()
                touched = [k for k, _ in changes if is_state_key(k)]
                batch: list[Change] = []
                if becomes_head and base.is_head:
                    batch += changes
                elif becomes_head:
                    ancestor = common_ancestor(self.store, old_head, base.parent)
                    removed = self._blocks(branch(self.store, ancestor, old_head))
                    added = [*self._blocks(branch(self.store, ancestor, base.parent)), block]
                    batch += reorg_changes(
                        self.store, self.storage, ancestor=ancestor, removed=removed,
                        added=added, new_changes=changes, new_nodes=executed.nodes,
                    )  # fmt: skip
                else:
                    batch += code_changes(changes)
                batch += [(TRIE_NODE_PREFIX + h, node) for h, node in executed.nodes.items()]
                batch += self.store.block_changes(
                    block,
                    executed.receipt_encodings,
                    raw=raw,
                    touched=touched,
                    canonical=becomes_head and base.is_head,
                )
                self.storage.write_batch(batch)
                executed.state.discard()
        except ForkError as exc:
            self._forget(base)
            raise BlockImportError(f"block {header.number}: {exc}") from None
        except BaseException:
            self._forget(base)
            raise
        change: HeadChange | None = None
        status: Status
        if not becomes_head:
            self._forget(base)  # the head's root ran the block (its engine kept the head)
            status = SIDE
        elif base.is_head:
            self._head = header
            change = HeadChange(
                old_head, header, old_head, (), (ChainBlock(block, executed.receipts),)
            )
            status = HEAD
        else:
            self._head = header
            self._root = self._open_root(header.state_root)
            change = HeadChange(
                old_head,
                header,
                ancestor,
                tuple(self._with_receipts(b) for b in removed),
                (
                    *(self._with_receipts(b) for b in added[:-1]),
                    ChainBlock(block, executed.receipts),
                ),
            )
            status = HEAD
            _log_reorg(change)
        if change is not None:
            for item in change.added:
                self.kernel.plugins.manager.hook.supervm_after_block(
                    block=item.block, receipts=item.receipts
                )
        self.last_timings = {
            **(checked or {}),
            **executed.timings,
            "roots": roots,
            "commit": time.perf_counter() - started,
        }
        return ImportOutcome(block, executed.receipts, status, change)

    def _blocks(self, headers: Sequence[BlockHeader]) -> list[Block]:
        blocks: list[Block] = []
        for header in headers:
            stored = self.store.block(header.hash)
            if stored is None:
                raise ForkError(f"block {header.number} (0x{header.hash.hex()}) is not stored")
            blocks.append(stored)
        return blocks

    def _with_receipts(self, block: Block) -> ChainBlock:
        return ChainBlock(block, tuple(self.store.receipts(block.header.hash) or ()))

    def open_root(self, root: bytes) -> StateRoot:
        """The state root ``root`` over the stored trie nodes: proofs and reads of that state."""
        return self._open_root(root)

    def _open_root(self, root: bytes) -> StateRoot:
        storage = self.storage

        def get_node(node_hash: bytes) -> bytes | None:
            return storage.get(TRIE_NODE_PREFIX + node_hash)

        return StateRoot(root, get_node)

    def close(self) -> None:
        """Stop the scheduler's workers and the sender-recovery worker, if they run."""
        self.scheduler.close()
        self._senders.close()


def _toward(parent: int, target: int) -> int:
    """The gas limit a child of a block with ``parent`` may have, as close to ``target`` as the
    rule allows (less than 1/1024 of the parent's away, at least the minimum), as geth moves it."""
    step = max(parent // GAS_LIMIT_BOUND_DIVISOR - 1, 0)
    return max(MIN_GAS_LIMIT, min(parent + step, max(parent - step, target)))


def _same(header: BlockHeader, what: str, declared: object, computed: object) -> None:
    if declared != computed:
        shown = [f"0x{v.hex()}" if isinstance(v, bytes) else str(v) for v in (declared, computed)]
        raise BlockImportError(
            f"block {header.number}: {what} differs: the header says {shown[0]}, "
            f"execution gives {shown[1]}"
        )


def genesis_block(
    genesis: Genesis, storage: Storage
) -> tuple[BlockHeader, WorldState, dict[bytes, bytes]]:
    """The genesis header, the genesis state (buffered over the empty ``storage``) and the
    trie nodes of its root."""
    state = WorldState(storage)
    for address, account in genesis.alloc.items():
        state.set_balance(address, account.balance)
        state.set_nonce(address, account.nonce)
        if account.code:
            state.set_code(address, account.code)
        for key, value in account.storage.items():
            state.set_storage(address, key, value)
    root = StateRoot()
    accounts, evm, wasm = root_changes(state.changes(), state.peek)
    state_root = root.apply(accounts, evm, wasm_storage=wasm)
    header = BlockHeader(
        parent_hash=bytes(32),
        coinbase=genesis.coinbase,
        state_root=state_root,
        difficulty=genesis.difficulty,
        number=0,
        gas_limit=genesis.gas_limit,
        timestamp=genesis.timestamp,
        extra_data=genesis.extra_data,
        mix_hash=genesis.mix_hash,
        nonce=genesis.nonce,
        base_fee_per_gas=genesis.base_fee,
        withdrawals_root=EMPTY_TRIE_ROOT,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=bytes(32),
    )
    return header, state, root.commit()


__all__ = [
    "BlockError",
    "BlockImportError",
    "BuiltBlock",
    "Chain",
    "ChainError",
    "genesis_block",
]


def _log_reorg(change: HeadChange) -> None:
    """Log a reorg as geth does ("Chain reorg detected"): operators see every head switch."""
    dropped, added = change.removed, change.added
    log.info(
        "chain reorg at block %d: dropped %d block%s from 0x%s, added %d from 0x%s",
        change.ancestor.number,
        len(dropped),
        "" if len(dropped) == 1 else "s",
        dropped[0].block.header.hash.hex() if dropped else "",
        len(added),
        added[0].block.header.hash.hex(),
        extra={
            "fields": {
                "event": "reorg",
                "ancestor": change.ancestor.number,
                "dropped": len(dropped),
                "added": len(added),
                "old_head": "0x" + change.old_head.hash.hex(),
                "new_head": "0x" + change.new_head.hash.hex(),
            }
        },
    )
