"""Receipts: what executing a transaction left behind, in Ethereum's consensus form.

A receipt commits to the outcome (status), the gas used so far in the block, the logs and their
bloom filter; the header's ``receipts_root`` is the ordered trie over the receipts' encodings and
its ``logs_bloom`` the union of their blooms. The encoding is Ethereum's since Byzantium:
``rlp([status, cumulative_gas_used, logs_bloom, logs])`` for a legacy transaction, prefixed with
the transaction's type byte for a typed one (EIP-2718). Receipts from before Byzantium, which
held a state root instead of a status, are not supported.

What JSON-RPC reports beyond that (the transaction's hash and position, its own gas use, the
contract it created, the price it paid) follows from the block and is not committed to; it is
:class:`ReceiptInfo`, built when asked for and never hashed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

import attrs

from supervm.chain.blocks import (
    BLOOM_SIZE,
    BlockError,
    ordered_trie_root,
)
from supervm.chain.rlp_reader import (
    Item,
    bytes_field,
    encode_bytes,
    encode_uint,
    list_prefix,
    read_header,
    read_list,
    uint_field,
)
from supervm.chain.transactions import LEGACY_TX_TYPE, SUPPORTED_TX_TYPES
from supervm.model import Log
from supervm.state.trie import keccak256

__all__ = [
    "Receipt",
    "ReceiptInfo",
    "bloom_contains",
    "decode_receipt",
    "encode_receipt",
    "logs_bloom",
    "merge_blooms",
    "receipts_root",
]

_ADDRESS_SIZE: Final = 20
_TOPIC_SIZE: Final = 32
_U64_LIMIT: Final = 2**64
#: The types whose receipts start with a type byte: all but legacy (EIP-2718).
_TYPED: Final = SUPPORTED_TX_TYPES - {LEGACY_TX_TYPE}
_SUCCESS: Final = 1
_FAILURE: Final = 0

# --- bloom --------------------------------------------------------------------------------------
#
# Ethereum's 2048-bit bloom (Yellow Paper, section 4.3.1): each item (a log's address and each of
# its topics) sets three bits, the low 11 bits of the first three big-endian 16-bit words of the
# item's keccak. Bit i of the filter is bit i of the 256 bytes read as one big-endian number.
#
# The keccak is the whole cost, and a block's logs repeat their items: every ERC20 transfer has
# the token's address and the Transfer topic. So each item's three bits are kept in a small LRU
# cache, which halves the hashing for such a block; a cache hit costs about a tenth of a hash.


@functools.lru_cache(maxsize=4096)
def _item_bits(item: bytes) -> int:
    h = keccak256(item)
    return (
        (1 << (((h[0] << 8) | h[1]) & 2047))
        | (1 << (((h[2] << 8) | h[3]) & 2047))
        | (1 << (((h[4] << 8) | h[5]) & 2047))
    )


def logs_bloom(logs: Iterable[Log]) -> bytes:
    """The 256-byte bloom filter of ``logs``: their addresses and topics, not their data."""
    bits = 0
    item_bits = _item_bits
    for log in logs:
        bits |= item_bits(log.address)
        for topic in log.topics:
            bits |= item_bits(topic)
    return bits.to_bytes(BLOOM_SIZE, "big")


def merge_blooms(blooms: Iterable[bytes]) -> bytes:
    """The union of bloom filters: a block's bloom from its receipts' blooms, with no hashing."""
    bits = 0
    for bloom in blooms:
        bits |= int.from_bytes(bloom, "big")
    return bits.to_bytes(BLOOM_SIZE, "big")


def bloom_contains(bloom: bytes, item: bytes) -> bool:
    """Whether ``item`` (an address or a topic) may be in the filter; ``False`` is certain,
    ``True`` may be a false positive. For ``eth_getLogs``: skip a block when this is False."""
    if len(bloom) != BLOOM_SIZE:
        raise BlockError(f"a logs bloom is {BLOOM_SIZE} bytes, got {len(bloom)}")
    bits = _item_bits(item)
    return int.from_bytes(bloom, "big") & bits == bits


# --- receipt ------------------------------------------------------------------------------------


def _default_bloom(receipt: Receipt) -> bytes:
    return logs_bloom(receipt.logs)


@attrs.frozen(kw_only=True)
class Receipt:
    """A transaction's receipt in its consensus form.

    :param tx_type: the transaction's type, which selects the encoding.
    :param status: 1 if the transaction succeeded, 0 if it failed (reverted, ran out of gas).
    :param cumulative_gas_used: the gas used by this and every earlier transaction of the block;
        a transaction's own use is the difference from the previous receipt's.
    :param logs_bloom: computed from ``logs`` when not given.
    """

    tx_type: int = LEGACY_TX_TYPE
    status: int
    cumulative_gas_used: int
    logs: tuple[Log, ...] = ()
    logs_bloom: bytes = attrs.field(default=attrs.Factory(_default_bloom, takes_self=True))

    def __attrs_post_init__(self) -> None:
        if self.tx_type not in SUPPORTED_TX_TYPES:
            raise BlockError(f"invalid receipt: transaction type {self.tx_type} not supported")
        if self.status not in (_SUCCESS, _FAILURE):
            raise BlockError(f"invalid receipt: status must be 0 or 1, got {self.status!r}")
        if not 0 <= self.cumulative_gas_used < _U64_LIMIT:
            raise BlockError(
                "invalid receipt: cumulative gas used must be in [0, 2**64),"
                f" got {self.cumulative_gas_used}"
            )
        if len(self.logs_bloom) != BLOOM_SIZE:
            raise BlockError(
                f"invalid receipt: the logs bloom must be {BLOOM_SIZE} bytes,"
                f" got {len(self.logs_bloom)}"
            )

    @property
    def succeeded(self) -> bool:
        """Whether the transaction succeeded."""
        return self.status == _SUCCESS


def _encode_log(log: Log) -> bytes:
    topics = b"".join([encode_bytes(topic) for topic in log.topics])
    payload = encode_bytes(log.address) + list_prefix(len(topics)) + topics + encode_bytes(log.data)
    return list_prefix(len(payload)) + payload


def encode_receipt(receipt: Receipt) -> bytes:
    """The consensus encoding: ``rlp([status, cumulative_gas_used, logs_bloom, logs])``, after
    the type byte for a typed transaction's receipt. This is what the receipts root commits to."""
    logs = b"".join([_encode_log(log) for log in receipt.logs])
    payload = (
        # Status 0 is the empty string and 1 the byte 0x01, as for any RLP integer.
        encode_uint(receipt.status)
        + encode_uint(receipt.cumulative_gas_used)
        + encode_bytes(receipt.logs_bloom)
        + list_prefix(len(logs))
        + logs
    )
    encoded = list_prefix(len(payload)) + payload
    if receipt.tx_type == LEGACY_TX_TYPE:
        return encoded
    return bytes((receipt.tx_type,)) + encoded


def _log_at(buf: bytes, item: Item, index: int) -> Log:
    what = f"log {index}"
    fields = read_list(buf, item, what, f"a field of {what}", BlockError)
    if len(fields) != 3:
        raise BlockError(
            f"invalid receipt: {what} has 3 fields (address, topics, data), got {len(fields)}"
        )
    address = bytes_field(buf, fields[0], f"the address of {what}", BlockError)
    if len(address) != _ADDRESS_SIZE:
        raise BlockError(
            f"invalid receipt: the address of {what} must be {_ADDRESS_SIZE} bytes,"
            f" got {len(address)}"
        )
    topics = []
    for topic_item in read_list(buf, fields[1], f"the topics of {what}", "a topic", BlockError):
        topic = bytes_field(buf, topic_item, f"a topic of {what}", BlockError)
        if len(topic) != _TOPIC_SIZE:
            raise BlockError(
                f"invalid receipt: a topic of {what} must be {_TOPIC_SIZE} bytes, got {len(topic)}"
            )
        topics.append(topic)
    data = bytes_field(buf, fields[2], f"the data of {what}", BlockError)
    return Log(address, tuple(topics), data)


def decode_receipt(raw: bytes) -> Receipt:
    """Decodes :func:`encode_receipt`'s output, strictly (canonical RLP, exact sizes).

    The bloom is taken as encoded, not checked against the logs: a receipt that came with a
    block is covered by the receipts root, and a wrong bloom there makes the block's bloom
    wrong, which the importer checks once for the whole block.

    :raises BlockError: naming what is wrong.
    """
    buf = bytes(raw)
    if not buf:
        raise BlockError("invalid receipt: empty input")
    first = buf[0]
    if first >= 0xC0:
        tx_type, offset = LEGACY_TX_TYPE, 0
    elif first in _TYPED:
        tx_type, offset = first, 1
    elif first == LEGACY_TX_TYPE:
        raise BlockError("invalid receipt: a legacy receipt is an RLP list without a type byte")
    elif first < 0x80:
        raise BlockError(f"invalid receipt: transaction type {first} not supported")
    else:
        raise BlockError(
            f"invalid receipt: first byte 0x{first:02x} is neither a transaction type (below"
            " 0x80) nor the start of a list"
        )
    is_list, start, stop = read_header(buf, offset, len(buf), "the receipt", BlockError)
    if stop != len(buf):
        raise BlockError(f"invalid RLP: trailing bytes after the receipt ({len(buf) - stop})")
    fields = read_list(
        buf, (is_list, offset, start, stop), "a receipt", "a receipt field", BlockError
    )
    if len(fields) != 4:
        raise BlockError(
            "invalid receipt: it has 4 fields (status, cumulative gas used, logs bloom, logs),"
            f" got {len(fields)}"
        )
    status_bytes = bytes_field(buf, fields[0], "the status", BlockError)
    if status_bytes not in (b"", b"\x01"):
        if len(status_bytes) == 32:
            raise BlockError(
                "invalid receipt: a post-state root instead of a status (before Byzantium)"
                " is not supported"
            )
        raise BlockError(
            f"invalid receipt: the status must be empty (failure) or 0x01 (success),"
            f" got 0x{status_bytes.hex()}"
        )
    cumulative_gas_used = uint_field(buf, fields[1], "cumulative gas used", BlockError)
    bloom = bytes_field(buf, fields[2], "the logs bloom", BlockError)
    if len(bloom) != BLOOM_SIZE:
        raise BlockError(
            f"invalid receipt: the logs bloom must be {BLOOM_SIZE} bytes, got {len(bloom)}"
        )
    logs = tuple(
        _log_at(buf, item, i)
        for i, item in enumerate(read_list(buf, fields[3], "the logs", "a log", BlockError))
    )
    return Receipt(
        tx_type=tx_type,
        status=len(status_bytes),
        cumulative_gas_used=cumulative_gas_used,
        logs=logs,
        logs_bloom=bloom,
    )


def receipts_root(receipts: Iterable[Receipt]) -> bytes:
    """The header's ``receipts_root`` for these receipts, in transaction order."""
    return ordered_trie_root(encode_receipt(receipt) for receipt in receipts)


# --- what RPC reports ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReceiptInfo:
    """A receipt with what ``eth_getTransactionReceipt`` reports beside it. Not consensus data:
    everything here follows from the block, the transaction and the receipts before it.

    :param sender: the transaction's ``from``.
    :param to: the transaction's recipient, ``None`` for a creation.
    :param contract_address: the created contract's address, for a successful creation.
    :param gas_used: this transaction's own gas (the difference of cumulative gas used).
    :param effective_gas_price: what the sender paid per gas (EIP-1559).
    :param first_log_index: the block-wide index of the receipt's first log (``logIndex``).
    """

    receipt: Receipt
    transaction_hash: bytes
    transaction_index: int
    block_hash: bytes
    block_number: int
    sender: bytes
    to: bytes | None
    contract_address: bytes | None
    gas_used: int
    effective_gas_price: int
    first_log_index: int
