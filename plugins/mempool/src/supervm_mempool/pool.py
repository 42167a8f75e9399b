"""The transaction pool: signed transactions waiting for a block, by sender and nonce.

Rules follow geth's legacy pool (``core/txpool/legacypool``) and keep its rejection wording,
so wallets and tools that match on geth's messages work unchanged against SuperVM:

* A sender's transactions are kept by nonce. Those whose nonces run on without a gap from the
  head state's nonce are *pending* (executable now, in order); those after a gap are *queued*
  until the gap fills or a block moves the nonce.
* A transaction for a (sender, nonce) the pool already holds replaces it only if both its fee
  cap and its tip are at least :data:`PRICE_BUMP_PERCENT` higher (geth's ``PriceBump``).
* A fee cap below the current base fee is not a rejection: the base fee may fall, and the
  transaction waits; :meth:`TransactionPool.pending` skips it (and its sender's later nonces)
  until then.
* When the pool is full the transaction with the lowest effective tip makes room, but never
  for one that pays no more than it does.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Final

import attrs
from supervm.chain.blocks import transaction_encoding
from supervm.chain.processor import BlockEnv
from supervm.chain.transactions import (
    SUPPORTED_TX_TYPES,
    Transaction,
    TransactionError,
    fee_cap,
    intrinsic_gas,
    tip_cap,
    validate_transaction,
)
from supervm.errors import SuperVMError
from supervm.services.admission import AdmissionContext, admit

if TYPE_CHECKING:
    from supervm.kernel import Kernel
    from supervm.state.world import WorldState

#: geth's ``txMaxSize``: four 32 KiB slots of the encoded transaction; larger ones are a cheap
#: way to fill peers' memory and bandwidth.
TX_MAX_SIZE: Final = 4 * 32 * 1024
#: geth's default ``PriceBump``: a replacement must pay this much more, in percent, so that
#: replacing cannot be used to spam the network for free.
PRICE_BUMP_PERCENT: Final = 10
DEFAULT_MAX_SIZE: Final = 5_000
DEFAULT_MAX_PER_SENDER: Final = 64
DEFAULT_BLOCK_GAS_LIMIT: Final = 30_000_000

# geth's error strings (core/error.go, core/txpool/errors.go), the part before any detail.
ALREADY_KNOWN: Final = "already known"
TYPE_NOT_SUPPORTED: Final = "transaction type not supported"
OVERSIZED_DATA: Final = "oversized data"
INVALID_CHAIN_ID: Final = "invalid chain id"
GAS_LIMIT: Final = "exceeds block gas limit"
INTRINSIC_GAS: Final = "intrinsic gas too low"
TIP_ABOVE_FEE_CAP: Final = "max priority fee per gas higher than max fee per gas"
INVALID_SENDER: Final = "invalid sender"
NONCE_TOO_LOW: Final = "nonce too low"
SENDER_NOT_EOA: Final = "sender not an eoa"
INSUFFICIENT_FUNDS: Final = "insufficient funds for gas * price + value"
REPLACE_UNDERPRICED: Final = "replacement transaction underpriced"
ACCOUNT_LIMIT: Final = "account limit exceeded"
POOL_FULL: Final = "txpool is full"


class PoolError(SuperVMError):
    """The pool refused a transaction.

    :param reason: geth's message for the rule, exactly (``"nonce too low"``); callers and
        tests match on it.
    :param detail: what about this transaction broke the rule, appended to the message.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@attrs.frozen
class AddResult:
    """What :meth:`TransactionPool.add` did.

    :param hash: the added transaction's hash.
    :param pending: whether it is executable at the head (no nonce gap before it).
    :param replaced: the transaction it replaced (same sender and nonce), if any.
    :param evicted: cheaper transactions dropped to make room for it.
    """

    hash: bytes
    pending: bool
    replaced: Transaction | None = None
    evicted: tuple[Transaction, ...] = ()


def pool_tip(tx: Transaction, base_fee: int) -> int:
    """The effective tip, negative when the fee cap is below the base fee.

    The kernel's ``effective_tip`` raises for such a transaction, since no block can include
    it; the pool still has to rank it, below every includable one, so it computes geth's
    ``EffectiveGasTip`` without the refusal.
    """
    return min(tip_cap(tx), fee_cap(tx) - base_fee)


def _cost(tx: Transaction) -> int:
    return tx.gas * fee_cap(tx) + tx.value


@attrs.define
class _Entry:
    tx: Transaction
    #: Arrival order: geth breaks ties in block order and eviction by time first seen.
    seq: int


class TransactionPool:
    """Pending and queued transactions, by sender and nonce; see the module's rules.

    :param kernel: asked through ``supervm_admit_transaction`` once the pool's own checks
        pass; ``None`` for a pool without plugins (tools, tests).
    :param max_size: pending plus queued transactions, across senders.
    :param max_per_sender: transactions of one sender (replacements do not count twice).
    :param block_gas_limit: a transaction needing more gas can never be included.
    :param accepted_types: transaction types the pool takes (EIP-2718 types); a node may
        narrow the kernel's set, for example to legacy only on a chain before London.
    """

    def __init__(
        self,
        kernel: Kernel | None = None,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_per_sender: int = DEFAULT_MAX_PER_SENDER,
        block_gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT,
        accepted_types: Collection[int] = SUPPORTED_TX_TYPES,
    ) -> None:
        if max_size < 1 or max_per_sender < 1:
            raise ValueError("the pool's limits must be at least 1")
        self.kernel = kernel
        self.max_size = max_size
        self.max_per_sender = max_per_sender
        self.block_gas_limit = block_gas_limit
        self.accepted_types = frozenset(accepted_types)
        self._by_hash: dict[bytes, _Entry] = {}
        #: sender -> nonce -> entry.
        self._senders: dict[bytes, dict[int, _Entry]] = {}
        #: Each held sender's nonce in the last head state the pool saw; pending runs from it.
        self._head_nonces: dict[bytes, int] = {}
        self._seq = itertools.count()

    # -- queries ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, item: object) -> bool:
        """Whether the pool holds a transaction, given as itself or as its hash."""
        if isinstance(item, Transaction):
            item = item.hash
        return isinstance(item, bytes) and item in self._by_hash

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The transaction with that hash, if the pool holds it."""
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.tx

    def stats(self) -> tuple[int, int]:
        """``(pending, queued)``: executable transactions and those behind a nonce gap."""
        pending = sum(len(self._pending_run(sender)) for sender in self._senders)
        return pending, len(self._by_hash) - pending

    def pending_by_sender(self) -> dict[bytes, list[Transaction]]:
        """Each sender's executable transactions, in nonce order (senders with none left out)."""
        result: dict[bytes, list[Transaction]] = {}
        for sender in self._senders:
            run = self._pending_run(sender)
            if run:
                result[sender] = [entry.tx for entry in run]
        return result

    def queued_by_sender(self) -> dict[bytes, list[Transaction]]:
        """Each sender's transactions behind a nonce gap, in nonce order."""
        result: dict[bytes, list[Transaction]] = {}
        for sender, by_nonce in self._senders.items():
            executable = len(self._pending_run(sender))
            queued = [by_nonce[nonce].tx for nonce in sorted(by_nonce)][executable:]
            if queued:
                result[sender] = queued
        return result

    def pending(self, base_fee: int) -> list[Transaction]:
        """The executable transactions in the order a block producer should try them.

        Highest effective tip first, each sender's nonces in order: a heap holds every
        sender's next transaction, as geth's ``TransactionsByPriceAndNonce``; taking one puts
        that sender's following nonce in. The order is greedy, not optimal (gas is not
        considered), which is what every Ethereum client does. A transaction whose fee cap is
        below ``base_fee`` cannot be included, nor can its sender's later nonces, so the sender
        stops there.
        """
        # seq is unique, so heap comparisons never reach the sender or the transaction.
        heads: list[tuple[int, int, bytes, Transaction]] = []
        runs: dict[bytes, Iterator[_Entry]] = {}
        for sender in self._senders:
            run = iter(self._pending_run(sender))
            first = next(run, None)
            if first is not None and fee_cap(first.tx) >= base_fee:
                runs[sender] = run
                heads.append((-pool_tip(first.tx, base_fee), first.seq, sender, first.tx))
        heapq.heapify(heads)
        ordered: list[Transaction] = []
        while heads:
            _, _, sender, tx = heapq.heappop(heads)
            ordered.append(tx)
            following = next(runs[sender], None)
            if following is not None and fee_cap(following.tx) >= base_fee:
                tip = pool_tip(following.tx, base_fee)
                heapq.heappush(heads, (-tip, following.seq, sender, following.tx))
        return ordered

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """The nonce ``sender``'s next transaction needs: past its pending run, which starts at
        ``state_nonce`` (the head state's nonce) unless the pool saw a newer head."""
        by_nonce = self._senders.get(sender)
        if not by_nonce:
            return state_nonce
        nonce = max(self._head_nonces.get(sender, state_nonce), state_nonce)
        while nonce in by_nonce:
            nonce += 1
        return nonce

    def _pending_run(self, sender: bytes) -> list[_Entry]:
        by_nonce = self._senders.get(sender, {})
        run = []
        nonce = self._head_nonces.get(sender, 0)
        while nonce in by_nonce:
            run.append(by_nonce[nonce])
            nonce += 1
        return run

    # -- adding -------------------------------------------------------------------------------

    def add(
        self,
        tx: Transaction,
        state: WorldState,
        *,
        base_fee: int,
        chain_id: int,
        local: bool = False,
        env: BlockEnv | None = None,
    ) -> AddResult:
        """Admit ``tx`` against the head ``state``, or raise why not.

        :param base_fee: the next block's base fee, to rank the transaction when the pool is
            full.
        :param chain_id: the chain's id; transactions for another chain are refused.
        :param local: submitted to this node rather than relayed by a peer (for admission
            plugins).
        :param env: the next block's environment for admission plugins; by default one built
            from ``chain_id``, ``base_fee`` and the pool's block gas limit.
        :raises PoolError: with geth's message for the first rule ``tx`` breaks, or the reason
            of an admission plugin's refusal.
        """
        if tx.hash in self._by_hash:
            raise PoolError(ALREADY_KNOWN)
        self._validate_basics(tx, chain_id)
        sender = tx.sender
        # The caller's head may be newer than the pool's last: catch the sender up first.
        self._sync_sender(sender, state)
        head_nonce = state.nonce(sender)
        if tx.nonce < head_nonce:
            raise PoolError(NONCE_TOO_LOW, f"next nonce {head_nonce}, tx nonce {tx.nonce}")
        if state.has_code(sender):
            # EIP-3607: the block processor refuses it, so holding it would only waste a slot.
            raise PoolError(SENDER_NOT_EOA, f"address 0x{sender.hex()}")
        balance, cost = state.balance(sender), _cost(tx)
        if balance < cost:
            raise PoolError(
                INSUFFICIENT_FUNDS, f"address 0x{sender.hex()} have {balance} want {cost}"
            )
        by_nonce = self._senders.get(sender, {})
        old = by_nonce.get(tx.nonce)
        if old is not None and not _replaces(tx, old.tx):
            raise PoolError(REPLACE_UNDERPRICED)
        if old is None and len(by_nonce) >= self.max_per_sender:
            raise PoolError(ACCOUNT_LIMIT, f"{len(by_nonce)} transactions of 0x{sender.hex()}")
        victims = [] if old is not None else self._victims(tx, base_fee)
        if self.kernel is not None:
            block_env = env or BlockEnv(
                chain_id=chain_id,
                number=0,
                timestamp=0,
                coinbase=bytes(20),
                gas_limit=self.block_gas_limit,
                base_fee=base_fee,
            )
            refusal = admit(self.kernel.plugins, tx, AdmissionContext(state, block_env, local))
            if refusal is not None:
                raise PoolError(refusal.reason)
        # Every check has passed: only now does the pool change.
        for victim in victims:
            self._drop(victim)
        if old is not None:
            self._drop(old.tx)
        self._head_nonces[sender] = head_nonce
        entry = _Entry(tx, next(self._seq))
        self._senders.setdefault(sender, {})[tx.nonce] = entry
        self._by_hash[tx.hash] = entry
        executable = any(e is entry for e in self._pending_run(sender))
        return AddResult(
            hash=tx.hash,
            pending=executable,
            replaced=None if old is None else old.tx,
            evicted=tuple(victims),
        )

    def _validate_basics(self, tx: Transaction, chain_id: int) -> None:
        """The stateless checks, in geth's ``ValidateTransaction`` order."""
        if tx.type not in self.accepted_types:
            raise PoolError(TYPE_NOT_SUPPORTED, f"type {tx.type}")
        size = len(transaction_encoding(tx))  # decoding kept the received bytes
        if size > TX_MAX_SIZE:
            raise PoolError(OVERSIZED_DATA, f"{size} bytes, limit {TX_MAX_SIZE}")
        # A legacy transaction without EIP-155 is valid on every chain, as in geth's pool.
        if tx.chain_id is not None and tx.chain_id != chain_id:
            raise PoolError(INVALID_CHAIN_ID, f"have {tx.chain_id} want {chain_id}")
        if tx.gas > self.block_gas_limit:
            raise PoolError(GAS_LIMIT, f"gas {tx.gas}, block gas limit {self.block_gas_limit}")
        if tip_cap(tx) > fee_cap(tx):
            raise PoolError(TIP_ABOVE_FEE_CAP)
        needed = intrinsic_gas(tx)
        if tx.gas < needed:
            raise PoolError(INTRINSIC_GAS, f"gas {tx.gas}, minimum needed {needed}")
        try:
            # The kernel's remaining rules (fee overflow, initcode size) and sender recovery.
            validate_transaction(tx, chain_id=chain_id)
        except TransactionError as exc:
            if "sender" in str(exc):
                raise PoolError(INVALID_SENDER) from exc
            raise PoolError(str(exc)) from exc

    def _victims(self, tx: Transaction, base_fee: int) -> list[Transaction]:
        """What to evict so that ``tx`` fits; raises if it pays no more than the cheapest."""
        if len(self._by_hash) < self.max_size:
            return []
        # A linear scan: the ranking moves with the base fee, and a pool of a few thousand
        # transactions is scanned faster than a re-keyed heap is maintained.
        executable = {id(entry) for sender in self._senders for entry in self._pending_run(sender)}

        def rank(entry: _Entry) -> tuple[int, bool, int, int]:
            # Cheapest first; among equals a queued one, then a sender's later nonce, then
            # the newest, since those are the least likely to be included soon.
            return (
                pool_tip(entry.tx, base_fee),
                id(entry) in executable,
                -entry.tx.nonce,
                -entry.seq,
            )

        cheapest = min(self._by_hash.values(), key=rank)
        if pool_tip(tx, base_fee) <= pool_tip(cheapest.tx, base_fee):
            raise PoolError(POOL_FULL)
        return [cheapest.tx]

    # -- removing -----------------------------------------------------------------------------

    def remove_included(self, txs: Iterable[Transaction], state: WorldState) -> None:
        """Forget a block's transactions and those it made stale; ``state`` is the new head.

        Every held sender's nonce is re-read, so transactions below it go (a block may carry
        a sender's transactions this pool never saw) and queued ones whose gap closed become
        pending.
        """
        for tx in txs:
            if tx.hash in self._by_hash:
                self._drop(tx)
        for sender in list(self._senders):
            self._sync_sender(sender, state)

    def remove(self, tx_hash: bytes) -> Transaction | None:
        """Drop one transaction (its sender's later nonces become queued); ``None`` if absent."""
        entry = self._by_hash.get(tx_hash)
        if entry is None:
            return None
        self._drop(entry.tx)
        return entry.tx

    def _sync_sender(self, sender: bytes, state: WorldState) -> None:
        """Move a held sender to ``state``'s nonce, dropping what the move made stale."""
        by_nonce = self._senders.get(sender)
        if by_nonce is None:
            return
        nonce = state.nonce(sender)
        self._head_nonces[sender] = nonce
        for stale in [e.tx for n, e in by_nonce.items() if n < nonce]:
            self._drop(stale)

    def _drop(self, tx: Transaction) -> None:
        del self._by_hash[tx.hash]
        sender = tx.sender
        by_nonce = self._senders[sender]
        del by_nonce[tx.nonce]
        if not by_nonce:
            del self._senders[sender]
            del self._head_nonces[sender]


def _replaces(new: Transaction, old: Transaction) -> bool:
    """geth's ``list.Add`` rule: both fee cap and tip strictly higher, and by the price bump.

    The threshold is rounded down as geth rounds it (``old * 110 / 100`` in integers), so a
    transaction at exactly +10% replaces.
    """
    old_cap, old_tip = fee_cap(old), tip_cap(old)
    new_cap, new_tip = fee_cap(new), tip_cap(new)
    if new_cap <= old_cap or new_tip <= old_tip:
        return False
    bump = 100 + PRICE_BUMP_PERCENT
    return new_cap >= old_cap * bump // 100 and new_tip >= old_tip * bump // 100
