"""The chain store: blocks, receipts, the transaction index and the head, in the state's storage.

Chain data lives in the same key-value storage as the world state, under prefixes from ``0x11``
up (the world state is below ``0x10``, trie nodes at ``0x10``), so that a block's state changes,
its body, receipts, index entries and the new head are written in one atomic batch: after a
crash the chain is at the previous head or the new one, never between.

=================  ==========================================================================
key                value
=================  ==========================================================================
``11 number``      the canonical block hash at a height (8-byte big-endian number)
``12 hash``        the block header's RLP
``13 hash``        the whole block's RLP (header, transactions, ommers, withdrawals)
``14 hash``        the block's receipts: an RLP list of their consensus encodings
``15 tx_hash``     the block hash and the transaction's index in it (4 bytes big-endian)
``17 hash``        the world-state keys the block changed (:func:`encode_key_list`), for reorgs
``16 "head"``      the canonical head's hash
``16 "genesis"``   the genesis block's hash
``16 "config"``    the genesis file the chain was made from (JSON)
=================  ==========================================================================

Receipts are stored in their consensus form only: what RPC adds (gas used, contract address,
effective gas price) follows from the block and its transactions.

Every valid block is stored (headers, bodies, receipts, changed keys and trie nodes), whether it
is on the canonical chain or a side chain; the canonical index (``11``), the transaction index
(``15``), the head and the flat world state describe the canonical chain only. A reorg rewrites
those four in one batch (:mod:`supervm.chain.forks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import rlp

from supervm.chain.blocks import (
    Block,
    BlockHeader,
    decode_block,
    decode_header,
    encode_block,
    encode_header,
)
from supervm.chain.receipts import Receipt, decode_receipt
from supervm.state.storage import Change, Storage
from supervm.state.trie import rlp_encode


def encode_key_list(keys: Iterable[bytes]) -> bytes:
    """``keys`` as the changed-keys record stores them: each as a 4-byte big-endian length and
    its bytes (RLP would do, but the ``rlp`` package decodes long lists in quadratic time)."""
    return b"".join([len(k).to_bytes(4, "big") + k for k in keys])


def decode_key_list(raw: bytes) -> list[bytes]:
    """The inverse of :func:`encode_key_list`.

    :raises ValueError: if ``raw`` is truncated.
    """
    keys: list[bytes] = []
    pos, end = 0, len(raw)
    while pos < end:
        size = int.from_bytes(raw[pos : pos + 4], "big")
        pos += 4
        if pos + size > end:
            raise ValueError("truncated key list")
        keys.append(raw[pos : pos + size])
        pos += size
    return keys


CANONICAL_PREFIX = b"\x11"
HEADER_PREFIX = b"\x12"
BLOCK_PREFIX = b"\x13"
RECEIPTS_PREFIX = b"\x14"
TX_INDEX_PREFIX = b"\x15"
TOUCHED_PREFIX = b"\x17"
HEAD_KEY = b"\x16head"
GENESIS_KEY = b"\x16genesis"
CONFIG_KEY = b"\x16config"


def _number(n: int) -> bytes:
    return n.to_bytes(8, "big")


class ChainStore:
    """Reads the chain from a storage, and says what writing a block adds to its batch."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- reading ------------------------------------------------------------------------------

    def head_hash(self) -> bytes | None:
        """The canonical head's hash (``None`` before genesis)."""
        return self.storage.get(HEAD_KEY)

    def head(self) -> BlockHeader | None:
        """The canonical head's header."""
        head = self.head_hash()
        return None if head is None else self.header(head)

    def genesis_hash(self) -> bytes | None:
        """The genesis block's hash."""
        return self.storage.get(GENESIS_KEY)

    def config(self) -> bytes | None:
        """The genesis file the chain was made from, as stored."""
        return self.storage.get(CONFIG_KEY)

    def canonical_hash(self, number: int) -> bytes | None:
        """The canonical block hash at ``number``."""
        return self.storage.get(CANONICAL_PREFIX + _number(number))

    def header(self, block_hash: bytes) -> BlockHeader | None:
        """The header of block ``block_hash``."""
        raw = self.storage.get(HEADER_PREFIX + block_hash)
        return None if raw is None else decode_header(raw)

    def header_by_number(self, number: int) -> BlockHeader | None:
        """The canonical header at ``number``."""
        block_hash = self.canonical_hash(number)
        return None if block_hash is None else self.header(block_hash)

    def block(self, block_hash: bytes) -> Block | None:
        """The block ``block_hash``, transactions included."""
        raw = self.raw_block(block_hash)
        return None if raw is None else decode_block(raw, recover=False)  # validated at import

    def raw_block(self, block_hash: bytes) -> bytes | None:
        """The block's RLP as stored (what ``chain export`` writes)."""
        return self.storage.get(BLOCK_PREFIX + block_hash)

    def block_by_number(self, number: int) -> Block | None:
        """The canonical block at ``number``."""
        block_hash = self.canonical_hash(number)
        return None if block_hash is None else self.block(block_hash)

    def receipts(self, block_hash: bytes) -> list[Receipt] | None:
        """The receipts of block ``block_hash``, in transaction order."""
        raw = self.storage.get(RECEIPTS_PREFIX + block_hash)
        if raw is None:
            return None
        return [decode_receipt(item) for item in rlp.decode(raw)]

    def has_block(self, block_hash: bytes) -> bool:
        """Whether block ``block_hash`` is stored (on the canonical chain or a side chain)."""
        return self.storage.get(HEADER_PREFIX + block_hash) is not None

    def is_canonical(self, header: BlockHeader) -> bool:
        """Whether ``header``'s block is the canonical one at its height."""
        return self.canonical_hash(header.number) == header.hash

    def touched_keys(self, block_hash: bytes) -> list[bytes] | None:
        """The world-state keys block ``block_hash`` changed (code excluded), or ``None`` for a
        block stored before the chain kept them (such a block cannot be reorganised away)."""
        raw = self.storage.get(TOUCHED_PREFIX + block_hash)
        if raw is None:
            return None
        return decode_key_list(raw)

    def transaction_location(self, tx_hash: bytes) -> tuple[bytes, int] | None:
        """The block hash and index of transaction ``tx_hash``, if it is in the chain."""
        raw = self.storage.get(TX_INDEX_PREFIX + tx_hash)
        return None if raw is None else (raw[:32], int.from_bytes(raw[32:], "big"))

    # -- writing ------------------------------------------------------------------------------

    def block_changes(
        self,
        block: Block,
        receipts: Sequence[bytes],
        *,
        raw: bytes | None = None,
        touched: Sequence[bytes] | None = None,
        canonical: bool = True,
    ) -> list[Change]:
        """The batch entries that store ``block``, as the new canonical head by default.

        :param receipts: the block's receipts in their consensus encoding.
        :param raw: the block's RLP, if the caller has it already (an imported block).
        :param touched: the world-state keys the block changed (kept for reorgs).
        :param canonical: ``False`` stores the block on a side chain: no canonical index, no
            transaction index, the head unchanged.
        """
        header = block.header
        block_hash = header.hash
        changes: list[Change] = [
            (HEADER_PREFIX + block_hash, encode_header(header)),
            (BLOCK_PREFIX + block_hash, raw if raw is not None else encode_block(block)),
            (RECEIPTS_PREFIX + block_hash, rlp_encode(list(receipts))),
        ]
        if touched is not None:
            changes.append((TOUCHED_PREFIX + block_hash, encode_key_list(touched)))
        if not canonical:
            return changes
        changes.append((CANONICAL_PREFIX + _number(header.number), block_hash))
        changes.append((HEAD_KEY, block_hash))
        changes += self.index_changes(block)
        if header.number == 0:
            changes.append((GENESIS_KEY, block_hash))
        return changes

    @staticmethod
    def index_changes(block: Block, *, remove: bool = False) -> list[Change]:
        """The transaction-index entries of ``block``'s transactions (deletions with
        ``remove``, for a block a reorg takes off the canonical chain)."""
        block_hash = block.header.hash
        if remove:
            return [(TX_INDEX_PREFIX + tx.hash, None) for tx in block.transactions]
        return [
            (TX_INDEX_PREFIX + tx.hash, block_hash + index.to_bytes(4, "big"))
            for index, tx in enumerate(block.transactions)
        ]

    @staticmethod
    def canonical_change(number: int, block_hash: bytes | None) -> Change:
        """The canonical-index entry of height ``number`` (``None`` removes it)."""
        return (CANONICAL_PREFIX + _number(number), block_hash)

    @staticmethod
    def head_change(block_hash: bytes) -> Change:
        """The entry that makes ``block_hash`` the head."""
        return (HEAD_KEY, block_hash)
