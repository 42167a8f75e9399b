"""py-evm's state interface over the kernel's :class:`~supervm.state.world.WorldState`.

py-evm keeps accounts in its ``AccountDB`` (a journaled trie over a key-value database). SuperVM
already has a journaled state every engine shares, so :class:`WorldStateEvm` replaces py-evm's
account database instead of feeding it: balance, nonce, code and storage reads and writes go
straight to the ``WorldState`` under its own keys, where the schedulers see them as read and
write sets and WASM contracts see them at once. Nothing is copied and nothing needs syncing.

**The journal.** py-evm's ``snapshot``/``revert``/``commit`` become WorldState snapshots (the
same stack the kernel's ``call_contract`` pushes onto, so EVM and WASM frames nest on one
journal). What WorldState does not hold, the EIP-2929 warm sets and EIP-1153 transient storage,
lives here with an undo log marked at each snapshot: py-evm's own ``JournalDB`` would be a second
journal with its own checkpoints to keep aligned with the first, for two small sets of keys.

**Credits.** A positive ``delta_balance`` (value received, the sender's refund, the coinbase's
tip) is a :meth:`~supervm.state.world.WorldState.credit`: a commutative addition that reads
nothing, so transactions paying one coinbase or one recipient do not conflict.

**EIP-161.** WorldState has no "existing but empty" accounts: an account with no nonce, balance
or code does not exist, so py-evm's sweep of touched empty accounts has nothing to delete and is
not run (it would read the coinbase's balance in every transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs
from eth.vm.execution_context import ExecutionContext as EvmExecutionContext
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth_typing import Address, BlockNumber, Hash32
from supervm.model import BlockEnv
from supervm.state.keys import (
    BALANCE_PREFIX,
    CODE_HASH_PREFIX,
    EMPTY_CODE_HASH,
    NONCE_PREFIX,
    STORAGE_PREFIX,
    storage_prefix,
)
from supervm.state.world import WorldState

from .pyevm_crossvm import CrossVmComputation

if TYPE_CHECKING:
    from eth.abc import SignedTransactionAPI, TransactionContextAPI
    from eth.typing import JournalDBCheckpoint
    from supervm.execution.dispatch import Dispatcher

_EMPTY = b""
#: Undo-log entry kinds.
_WARM, _TRANSIENT = 0, 1


@attrs.define(eq=False)
class TransactionFrame:
    """What one Ethereum transaction's EVM frames share, beyond the world state.

    One frame per transaction applied (or per outermost message a WASM contract sends into EVM
    code): a WASM contract that calls back into EVM code in the middle of an EVM transaction
    runs on the same frame, so warm accounts, transient storage, the original values of slots
    and the contracts created are the transaction's, as in Ethereum.

    :param world: the state every frame of the transaction runs on.
    :param env: the block's environment.
    :param dispatcher: finds the engine of a called contract (``None``: no cross-VM calls).
    :param simulate: ``eth_call``: nothing is bought, refunded or paid.
    :param code_analysis: the backend's valid and invalid jump positions per code, shared by
        every transaction (they depend on the code alone).
    """

    world: WorldState
    env: BlockEnv
    dispatcher: Dispatcher | None
    simulate: bool = False
    code_analysis: dict[bytes, tuple[set[int], set[int]]] = attrs.field(factory=dict)
    #: Values of the slots written so far, as they were when the transaction began (EIP-2200).
    originals: dict[bytes, int] = attrs.field(factory=dict)
    #: Accounts whose storage was wiped by a create: their original values are 0 (EIP-2200).
    wiped: set[bytes] = attrs.field(factory=set)
    #: Contracts created in this transaction (EIP-6780: only they can be destroyed); py-evm
    #: reads it from a parent computation, which is what :attr:`lineage` stands in for.
    contracts_created: list[Address] = attrs.field(factory=list)
    #: Refunds and self-destructs of EVM frames a WASM contract ran, for its EVM caller to
    #: adopt if the WASM call succeeds (they are not children of that caller's computation).
    pending_refund: int = 0
    pending_deletions: list[Address] = attrs.field(factory=list)
    #: The state object the frames run on (set when it is built).
    evm_state: WorldStateEvm | None = None

    @property
    def lineage(self) -> TransactionFrame:
        """The stand-in parent computation: py-evm only reads its ``contracts_created``."""
        return self


def evm_execution_context(env: BlockEnv) -> EvmExecutionContext:
    """py-evm's block context for ``env`` (PREVRANDAO is the header's mix hash after the merge)."""
    return EvmExecutionContext(
        coinbase=Address(env.coinbase),
        timestamp=env.timestamp,
        block_number=BlockNumber(env.number),
        difficulty=0,
        mix_hash=Hash32(env.prev_randao),
        gas_limit=env.gas_limit,
        prev_hashes=tuple(Hash32(h) for h in env.block_hashes),
        chain_id=env.chain_id,
        base_fee_per_gas=env.base_fee,
        excess_blob_gas=env.excess_blob_gas or 0,
    )


class WorldStateEvm(CancunState):
    """py-evm's Cancun state, reading and writing a :class:`WorldState` directly.

    Build one per :class:`TransactionFrame` with :meth:`for_frame`.
    """

    computation_class = CrossVmComputation

    def __init__(self, frame: TransactionFrame) -> None:
        # BaseState.__init__ would build an AccountDB over a trie: the world state replaces it.
        self.frame = frame
        self.world = frame.world
        self.execution_context = evm_execution_context(frame.env)
        self._warm: set[bytes] = set()
        self._transient: dict[bytes, bytes] = {}
        self._undo: list[tuple[int, bytes, bytes | None]] = []
        self._marks: dict[int, int] = {}
        frame.evm_state = self

    # -- accounts ------------------------------------------------------------------------------

    def get_balance(self, address: Address) -> int:
        raw = self.world.get(BALANCE_PREFIX + address)
        return int.from_bytes(raw, "little") if raw else 0

    def set_balance(self, address: Address, balance: int) -> None:
        self.world.set_balance(address, balance)

    def delta_balance(self, address: Address, delta: int) -> None:
        if delta > 0:
            self.world.credit(address, delta)
        elif delta < 0:
            self.world.set_balance(address, self.get_balance(address) + delta)

    def get_nonce(self, address: Address) -> int:
        raw = self.world.get(NONCE_PREFIX + address)
        return int.from_bytes(raw, "big") if raw else 0

    def set_nonce(self, address: Address, nonce: int) -> None:
        self.world.set_nonce(address, nonce)

    def increment_nonce(self, address: Address) -> None:
        self.world.set_nonce(address, self.get_nonce(address) + 1)

    def get_code(self, address: Address) -> bytes:
        return self.world.code(address)

    def set_code(self, address: Address, code: bytes) -> None:
        self.world.set_code(address, code)

    def get_code_hash(self, address: Address) -> Hash32:
        return Hash32(self.world.get(CODE_HASH_PREFIX + address) or EMPTY_CODE_HASH)

    def delete_code(self, address: Address) -> None:
        self.world.set_code(address, b"")

    def has_code_or_nonce(self, address: Address) -> bool:
        """Whether a create at ``address`` collides: code, a nonce, or (EIP-7610, applied to
        every fork since) storage."""
        world = self.world
        if world.get(NONCE_PREFIX + address) is not None or world.has_code(address):
            return True
        return next(iter(world.iterate_prefix(storage_prefix(address))), None) is not None

    def account_exists(self, address: Address) -> bool:
        return not self.world.is_empty(address)

    def account_is_empty(self, address: Address) -> bool:
        return self.world.is_empty(address)

    def touch_account(self, address: Address) -> None:
        """Touching matters only to delete empty accounts, which WorldState never keeps."""

    def delete_account(self, address: Address) -> None:
        self.delete_storage(address)
        world = self.world
        world.set_nonce(address, 0)
        world.set_balance(address, 0)
        world.set_code(address, b"")

    # -- storage -------------------------------------------------------------------------------

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        key = STORAGE_PREFIX + address + slot.to_bytes(32, "big")
        if not from_journal:
            original = self.frame.originals.get(key)
            if original is not None:
                return original
            if address in self.frame.wiped:
                return 0
        raw = self.world.get(key)
        return int.from_bytes(raw, "big") if raw else 0

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        key = STORAGE_PREFIX + address + slot.to_bytes(32, "big")
        originals = self.frame.originals
        world = self.world
        if key not in originals:
            if address in self.frame.wiped:
                originals[key] = 0
            else:
                raw = world.get(key)
                originals[key] = int.from_bytes(raw, "big") if raw else 0
        if value:
            world.set(key, value.to_bytes(32, "big"))
        else:
            world.delete(key)

    def delete_storage(self, address: Address) -> None:
        world = self.world
        for key, _value in list(world.iterate_prefix(storage_prefix(address))):
            world.delete(key)
        self.frame.wiped.add(address)

    # -- EIP-2929 warm accounts and slots --------------------------------------------------------

    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm or address in self.computation_class.get_precompiles()

    def mark_address_warm(self, address: Address) -> None:
        if address not in self._warm:
            self._warm.add(address)
            self._undo.append((_WARM, address, None))

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return address + slot.to_bytes(32, "big") in self._warm

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        key = address + slot.to_bytes(32, "big")
        if key not in self._warm:
            self._warm.add(key)
            self._undo.append((_WARM, key, None))

    def warm_up(self, addresses: Iterable[bytes]) -> None:
        """Mark ``addresses`` warm (a message's caller and callee)."""
        for address in addresses:
            self.mark_address_warm(Address(address))

    # -- EIP-1153 transient storage ---------------------------------------------------------------

    def get_transient_storage(self, address: Address, slot: int) -> bytes:
        return self._transient.get(address + slot.to_bytes(32, "big"), _EMPTY)

    def set_transient_storage(self, address: Address, slot: int, value: bytes) -> None:
        key = address + slot.to_bytes(32, "big")
        self._undo.append((_TRANSIENT, key, self._transient.get(key)))
        self._transient[key] = value

    def clear_transient_storage(self) -> None:
        self._transient.clear()

    # -- the journal: WorldState snapshots ----------------------------------------------------

    def snapshot(self) -> tuple[Hash32, JournalDBCheckpoint]:
        world = self.world
        world.snapshot()
        depth = world.depth
        self._marks[depth] = len(self._undo)
        # py-evm's snapshot is (state root, checkpoint); the depth names the WorldState layer.
        return Hash32(_EMPTY), depth  # type: ignore[return-value]

    def revert(self, snapshot: tuple[Hash32, JournalDBCheckpoint]) -> None:
        depth = int(snapshot[1])
        world = self.world
        while world.depth >= depth:
            world.rollback_snapshot()
        mark = self._marks.pop(depth)
        undo = self._undo
        warm, transient = self._warm, self._transient
        while len(undo) > mark:
            kind, key, old = undo.pop()
            if kind == _WARM:
                warm.discard(key)
            elif old is None:
                transient.pop(key, None)
            else:
                transient[key] = old
        self._drop_marks_above(depth)

    def commit(self, snapshot: tuple[Hash32, JournalDBCheckpoint]) -> None:
        depth = int(snapshot[1])
        world = self.world
        while world.depth >= depth:
            world.commit_snapshot()
        del self._marks[depth]
        self._drop_marks_above(depth)

    def _drop_marks_above(self, depth: int) -> None:
        # Snapshots py-evm never closed (none in practice) were folded with this one.
        for stale in [d for d in self._marks if d > depth]:
            del self._marks[stale]

    # -- what the trie-backed state had and this one does not ---------------------------------

    @property
    def state_root(self) -> Hash32:
        raise NotImplementedError("the state root is the kernel's (supervm.state.root)")

    def make_state_root(self) -> Hash32:
        raise NotImplementedError("the state root is the kernel's (supervm.state.root)")

    def persist(self) -> Any:
        raise NotImplementedError("the kernel commits the world state")

    def lock_changes(self) -> None:
        """Nothing to lock: the kernel commits the world state."""

    def set_system_contracts(self) -> None:
        """System contracts (EIP-4788's beacon roots) are the chain's, not each state's."""

    # -- transactions ---------------------------------------------------------------------------

    def get_gas_price(self, transaction: SignedTransactionAPI) -> int:
        """What the sender pays per gas: nothing when simulating (``eth_call``)."""
        if self.frame.simulate:
            return 0
        return int(super().get_gas_price(transaction))

    def get_tip(self, transaction: SignedTransactionAPI) -> int:
        """What the coinbase earns per gas: nothing when simulating."""
        if self.frame.simulate:
            return 0
        return int(super().get_tip(transaction))

    def get_transaction_context(self, transaction: SignedTransactionAPI) -> TransactionContextAPI:
        effective = min(
            transaction.max_priority_fee_per_gas + self.frame.env.base_fee,
            transaction.max_fee_per_gas,
        )
        return CancunTransactionContext(
            gas_price=max(effective, 0),
            origin=transaction.sender,
            blob_versioned_hashes=transaction.blob_versioned_hashes,
        )


__all__ = ["TransactionFrame", "WorldStateEvm", "evm_execution_context"]
