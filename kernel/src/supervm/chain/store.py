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
``16 "head"``      the canonical head's hash
``16 "genesis"``   the genesis block's hash
``16 "config"``    the genesis file the chain was made from (JSON)
=================  ==========================================================================

Receipts are stored in their consensus form only: what RPC adds (gas used, contract address,
effective gas price) follows from the block and its transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

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

CANONICAL_PREFIX = b"\x11"
HEADER_PREFIX = b"\x12"
BLOCK_PREFIX = b"\x13"
RECEIPTS_PREFIX = b"\x14"
TX_INDEX_PREFIX = b"\x15"
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

    def transaction_location(self, tx_hash: bytes) -> tuple[bytes, int] | None:
        """The block hash and index of transaction ``tx_hash``, if it is in the chain."""
        raw = self.storage.get(TX_INDEX_PREFIX + tx_hash)
        return None if raw is None else (raw[:32], int.from_bytes(raw[32:], "big"))

    # -- writing ------------------------------------------------------------------------------

    def block_changes(
        self, block: Block, receipts: Sequence[bytes], *, raw: bytes | None = None
    ) -> list[Change]:
        """The batch entries that add ``block`` as the new canonical head.

        :param receipts: the block's receipts in their consensus encoding.
        :param raw: the block's RLP, if the caller has it already (an imported block).
        """
        header = block.header
        block_hash = header.hash
        changes: list[Change] = [
            (CANONICAL_PREFIX + _number(header.number), block_hash),
            (HEADER_PREFIX + block_hash, encode_header(header)),
            (BLOCK_PREFIX + block_hash, raw if raw is not None else encode_block(block)),
            (RECEIPTS_PREFIX + block_hash, rlp_encode(list(receipts))),
            (HEAD_KEY, block_hash),
        ]
        changes += [
            (TX_INDEX_PREFIX + tx.hash, block_hash + index.to_bytes(4, "big"))
            for index, tx in enumerate(block.transactions)
        ]
        if header.number == 0:
            changes.append((GENESIS_KEY, block_hash))
        return changes
