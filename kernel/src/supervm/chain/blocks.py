"""Blocks: the header, the body (transactions, ommers, withdrawals) and their encodings.

The formats are Ethereum's, as geth writes them, so a block's hash is the one every Ethereum
tool computes and the Ethereum test suites check the code directly:

- a header is the RLP list of its fields in the Yellow Paper's order, followed by the optional
  fields later forks appended (London's base fee, Shanghai's withdrawals root, Cancun's blob gas
  fields and parent beacon block root); the hash is the keccak of that encoding;
- a block is ``rlp([header, [transactions], [ommers], [withdrawals]?])``, where a legacy
  transaction is embedded as its RLP list and a typed one as an RLP byte string holding
  ``type || payload`` (EIP-2718), and the withdrawals list is present exactly when the header
  has a withdrawals root.

Decoding is strict (canonical RLP, exact field sizes, integers in range) and reports a
:class:`BlockError` naming the problem, so every block has one encoding and re-encoding a decoded
block reproduces its bytes. It checks format only: whether the header's roots match the body is
:func:`check_body`'s question, and everything that depends on the parent or the fork (gas limit
bounds, timestamps, which optional fields must be present, the size of ``extra_data``) is the
consensus engine's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

import attrs

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
from supervm.chain.transactions import (
    _UNSUPPORTED_TX_TYPES,
    ACCESS_LIST_TX_TYPE,
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    Transaction,
    TransactionError,
    _decode_legacy,
    _decode_typed,
    encode_transaction,
    validate_transaction,
)
from supervm.errors import SuperVMError
from supervm.state.trie import EMPTY_ROOT, Trie, keccak256

__all__ = [
    "BLOOM_SIZE",
    "EMPTY_BLOOM",
    "EMPTY_OMMERS_HASH",
    "EMPTY_TRIE_ROOT",
    "Block",
    "BlockError",
    "BlockHeader",
    "Withdrawal",
    "check_body",
    "decode_block",
    "decode_header",
    "decode_withdrawal",
    "encode_block",
    "encode_header",
    "encode_withdrawal",
    "ommers_hash",
    "ordered_trie_root",
    "transaction_encoding",
    "transactions_root",
    "withdrawals_root",
]

HASH_SIZE: Final = 32
ADDRESS_SIZE: Final = 20
BLOOM_SIZE: Final = 256
NONCE_SIZE: Final = 8
ZERO_HASH: Final = bytes(HASH_SIZE)
EMPTY_BLOOM: Final = bytes(BLOOM_SIZE)
#: keccak(rlp([])): the ommers hash of a block without ommers (every block since the Merge).
EMPTY_OMMERS_HASH: Final = keccak256(b"\xc0")
#: keccak(rlp(b"")): the root of an empty trie (no transactions, receipts or withdrawals).
EMPTY_TRIE_ROOT: Final = EMPTY_ROOT

_U64_LIMIT: Final = 2**64
_U256_LIMIT: Final = 2**256


class BlockError(SuperVMError):
    """A block, header, withdrawal or receipt is malformed (or, from :func:`check_body`, its body
    does not match its header)."""


# --- header -------------------------------------------------------------------------------------

# How each header field is encoded and checked: a byte string of exact size, a byte string of
# any size, or an unsigned integer below a limit. One table drives construction, encoding and
# decoding, so the three cannot disagree about a field.
_HASH: Final = ("bytes", HASH_SIZE)
_ADDRESS: Final = ("bytes", ADDRESS_SIZE)
_BLOOM: Final = ("bytes", BLOOM_SIZE)
_NONCE: Final = ("bytes", NONCE_SIZE)
_ANY_BYTES: Final = ("bytes", None)
# Geth reads the difficulty and base fee as big integers and the gas fields and timestamp as
# uint64; the number is a big integer there, but EIP-1985 and SuperVM keep it in 64 bits.
_U256: Final = ("uint", _U256_LIMIT)
_U64: Final = ("uint", _U64_LIMIT)

_HEADER_FIELDS: Final[tuple[tuple[str, tuple[str, int | None]], ...]] = (
    ("parent_hash", _HASH),
    ("ommers_hash", _HASH),
    ("coinbase", _ADDRESS),
    ("state_root", _HASH),
    ("transactions_root", _HASH),
    ("receipts_root", _HASH),
    ("logs_bloom", _BLOOM),
    ("difficulty", _U256),
    ("number", _U64),
    ("gas_limit", _U64),
    ("gas_used", _U64),
    ("timestamp", _U64),
    ("extra_data", _ANY_BYTES),
    ("mix_hash", _HASH),
    ("nonce", _NONCE),
    # Optional, in the order the forks appended them.
    ("base_fee_per_gas", _U256),  # London, EIP-1559
    ("withdrawals_root", _HASH),  # Shanghai, EIP-4895
    ("blob_gas_used", _U64),  # Cancun, EIP-4844
    ("excess_blob_gas", _U64),  # Cancun, EIP-4844
    ("parent_beacon_block_root", _HASH),  # Cancun, EIP-4788
)
_REQUIRED_FIELDS: Final = 15
_MAX_FIELDS: Final = len(_HEADER_FIELDS)
_LIMIT_TEXT: Final = {_U64_LIMIT: "2**64", _U256_LIMIT: "2**256"}


def _label(name: str) -> str:
    return name.replace("_", " ")


_LABELS: Final = tuple(_label(name) for name, _kind in _HEADER_FIELDS)
_THE_HEADER: Final = "the block header"


@attrs.frozen(kw_only=True, slots=False)
class BlockHeader:
    """A block header, field for field Ethereum's.

    The optional fields are ``None`` when absent; a present optional field implies that every
    earlier one is present, as in the encoding, where they are simply appended. Which of them a
    block must have depends on the fork and is the consensus engine's rule, as is the size of
    ``extra_data``: Ethereum allows at most 32 bytes, Clique (proof of authority) puts 97 there.

    Construction checks sizes and ranges and raises :class:`BlockError`. ``hash`` is computed
    once and cached (the class is not slotted for that reason).

    :param mix_hash: ``prevRandao`` since the Merge (EIP-4399); see :attr:`prev_randao`.
    :param nonce: 8 bytes, zero since the Merge.
    :param blob_gas_used: Cancun; SuperVM carries no blobs, so 0 in its own blocks.
    """

    parent_hash: bytes
    ommers_hash: bytes = EMPTY_OMMERS_HASH
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes = EMPTY_TRIE_ROOT
    receipts_root: bytes = EMPTY_TRIE_ROOT
    logs_bloom: bytes = EMPTY_BLOOM
    difficulty: int = 0
    number: int
    gas_limit: int
    gas_used: int = 0
    timestamp: int
    extra_data: bytes = b""
    mix_hash: bytes = ZERO_HASH
    nonce: bytes = bytes(NONCE_SIZE)
    base_fee_per_gas: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None

    def __attrs_post_init__(self) -> None:
        absent: str | None = None
        for name, (kind, size) in _HEADER_FIELDS:
            value = getattr(self, name)
            if value is None:
                absent = absent or name
                continue
            if absent is not None:
                raise BlockError(
                    f"invalid block header: {_label(name)} is present but the earlier"
                    f" optional field {_label(absent)} is not"
                )
            if kind == "bytes":
                if not isinstance(value, bytes):
                    raise BlockError(f"invalid block header: {_label(name)} must be bytes")
                if size is not None and len(value) != size:
                    raise BlockError(
                        f"invalid block header: {_label(name)} must be {size} bytes,"
                        f" got {len(value)}"
                    )
            else:
                assert size is not None
                if not isinstance(value, int) or not 0 <= value < size:
                    raise BlockError(
                        f"invalid block header: {_label(name)} must be an integer in"
                        f" [0, {_LIMIT_TEXT[size]}), got {value!r}"
                    )

    @functools.cached_property
    def hash(self) -> bytes:
        """Keccak-256 of the encoding: the block's identity."""
        return keccak256(encode_header(self))

    @property
    def prev_randao(self) -> bytes:
        """The beacon chain's randomness (EIP-4399), which the Merge put in ``mix_hash``."""
        return self.mix_hash

    @property
    def field_count(self) -> int:
        """How many fields the encoding has: 15 before London, up to 20 in Cancun."""
        count = _REQUIRED_FIELDS
        while count < _MAX_FIELDS and getattr(self, _HEADER_FIELDS[count][0]) is not None:
            count += 1
        return count


def _header_items(header: BlockHeader) -> list[bytes]:
    items = []
    for name, (kind, _size) in _HEADER_FIELDS:
        value = getattr(header, name)
        if value is None:
            break
        items.append(encode_bytes(value) if kind == "bytes" else encode_uint(value))
    return items


def encode_header(header: BlockHeader) -> bytes:
    """The header's RLP: its present fields in Ethereum's order."""
    payload = b"".join(_header_items(header))
    return list_prefix(len(payload)) + payload


def _header_at(buf: bytes, item: Item, what: str) -> BlockHeader:
    """The header whose encoding is ``item`` of ``buf``; ``what`` names it in errors."""
    if not item[0]:
        raise BlockError(f"invalid RLP: {what} must be a list")
    # Read field by field rather than with list_items, so that an RLP error names the field.
    suffix = "" if what == _THE_HEADER else f" of {what}"
    labels = [label + suffix for label in _LABELS]
    fields: list[Item] = []
    pos, end = item[2], item[3]
    while pos < end:
        index = len(fields)
        label = labels[index] if index < _MAX_FIELDS else f"field {index}{suffix}"
        is_list, start, stop = read_header(buf, pos, end, label, BlockError)
        fields.append((is_list, pos, start, stop))
        pos = stop
    if not _REQUIRED_FIELDS <= len(fields) <= _MAX_FIELDS:
        raise BlockError(
            f"invalid block header: {what} has {_REQUIRED_FIELDS} to {_MAX_FIELDS} fields"
            f" (15 before London, 20 in Cancun), got {len(fields)}"
        )
    values: dict[str, object] = {}
    for field, (name, (kind, size)), label in zip(fields, _HEADER_FIELDS, labels, strict=False):
        if kind == "bytes":
            value = bytes_field(buf, field, label, BlockError)
            if size is not None and len(value) != size:
                raise BlockError(
                    f"invalid block header: {label} must be {size} bytes, got {len(value)}"
                )
            values[name] = value
        else:
            assert size is not None
            number = uint_field(buf, field, label, BlockError)
            if number >= size:
                raise BlockError(f"invalid block header: {label} must be below {_LIMIT_TEXT[size]}")
            values[name] = number
    header = BlockHeader(**values)  # type: ignore[arg-type]
    # A canonical encoding is unique, so the input is the encoding the hash is defined over.
    header.__dict__["hash"] = keccak256(buf[item[1] : item[3]])
    return header


def _top_level(buf: bytes, what: str) -> Item:
    """The single item that ``buf`` must consist of."""
    if not buf:
        raise BlockError(f"invalid RLP: empty {what}")
    is_list, start, stop = read_header(buf, 0, len(buf), what, BlockError)
    if stop != len(buf):
        raise BlockError(f"invalid RLP: trailing bytes after {what} ({len(buf) - stop})")
    return is_list, 0, start, stop


def decode_header(raw: bytes) -> BlockHeader:
    """Decodes a header's RLP, strictly (see the module docstring).

    ``extra_data`` may have any size here: its limit is a consensus rule (32 bytes in Ethereum,
    97 in Clique), checked by the consensus engine.

    :raises BlockError: naming what is wrong.
    """
    buf = bytes(raw)
    return _header_at(buf, _top_level(buf, _THE_HEADER), _THE_HEADER)


# --- withdrawals --------------------------------------------------------------------------------


@attrs.frozen
class Withdrawal:
    """A validator withdrawal from the beacon chain (EIP-4895, Shanghai).

    :param index: the withdrawal's sequence number, unique across the chain.
    :param validator_index: the validator withdrawn from.
    :param address: the 20-byte account credited.
    :param amount: in gwei (10**9 wei), not wei.
    """

    index: int
    validator_index: int
    address: bytes
    amount: int

    def __attrs_post_init__(self) -> None:
        for name in ("index", "validator_index", "amount"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < _U64_LIMIT:
                raise BlockError(
                    f"invalid withdrawal: {_label(name)} must be in [0, 2**64), got {value!r}"
                )
        if not isinstance(self.address, bytes) or len(self.address) != ADDRESS_SIZE:
            raise BlockError(f"invalid withdrawal: address must be {ADDRESS_SIZE} bytes")


def encode_withdrawal(withdrawal: Withdrawal) -> bytes:
    """``rlp([index, validator_index, address, amount])``."""
    payload = (
        encode_uint(withdrawal.index)
        + encode_uint(withdrawal.validator_index)
        + encode_bytes(withdrawal.address)
        + encode_uint(withdrawal.amount)
    )
    return list_prefix(len(payload)) + payload


def _withdrawal_at(buf: bytes, item: Item) -> Withdrawal:
    fields = read_list(buf, item, "a withdrawal", "a withdrawal field", BlockError)
    if len(fields) != 4:
        raise BlockError(
            "invalid withdrawal: it has 4 fields (index, validator index, address, amount),"
            f" got {len(fields)}"
        )
    numbers = [
        uint_field(buf, fields[i], f"withdrawal {name}", BlockError)
        for i, name in ((0, "index"), (1, "validator index"), (3, "amount"))
    ]
    address = bytes_field(buf, fields[2], "withdrawal address", BlockError)
    if len(address) != ADDRESS_SIZE:
        raise BlockError(
            f"invalid withdrawal: address must be {ADDRESS_SIZE} bytes, got {len(address)}"
        )
    return Withdrawal(
        index=numbers[0], validator_index=numbers[1], address=address, amount=numbers[2]
    )


def decode_withdrawal(raw: bytes) -> Withdrawal:
    """Decodes :func:`encode_withdrawal`'s output, strictly.

    :raises BlockError: naming what is wrong.
    """
    buf = bytes(raw)
    return _withdrawal_at(buf, _top_level(buf, "the withdrawal"))


# --- block --------------------------------------------------------------------------------------


@attrs.frozen
class Block:
    """A header and its body.

    :param withdrawals: present (possibly empty) exactly when the header has a withdrawals root,
        as in the encoding; ``None`` before Shanghai.

    Construction does not check that the body matches the header's roots: that costs a trie per
    list, so it is :func:`check_body`'s job, done once where a block enters the node.
    """

    header: BlockHeader
    transactions: tuple[Transaction, ...] = ()
    ommers: tuple[BlockHeader, ...] = ()
    withdrawals: tuple[Withdrawal, ...] | None = None

    def __attrs_post_init__(self) -> None:
        if (self.withdrawals is None) != (self.header.withdrawals_root is None):
            raise BlockError(
                "invalid block: withdrawals must be given exactly when the header has a"
                " withdrawals root"
            )

    @property
    def hash(self) -> bytes:
        """The header's hash."""
        return self.header.hash

    @property
    def number(self) -> int:
        """The header's number."""
        return self.header.number


# The network encoding of a transaction, cached on the transaction beside its hash and sender
# (the class is not slotted for that): a block's encoding and its transactions root each need
# every transaction's encoding, which costs about as much as decoding it. Decoding a block
# seeds it from the input.
_ENCODING_KEY: Final = "_encoding"


def transaction_encoding(tx: Transaction) -> bytes:
    """``encode_transaction(tx)``, computed once per transaction and kept on it."""
    cached: bytes | None = tx.__dict__.get(_ENCODING_KEY)
    if cached is None:
        cached = tx.__dict__[_ENCODING_KEY] = encode_transaction(tx)
    return cached


def _embedded(tx: Transaction) -> bytes:
    encoding = transaction_encoding(tx)
    # EIP-2718: a typed transaction sits in a block as a byte string, a legacy one as its list.
    return encoding if tx.type == LEGACY_TX_TYPE else encode_bytes(encoding)


def _rlp_list(items: Iterable[bytes]) -> bytes:
    payload = b"".join(items)
    return list_prefix(len(payload)) + payload


def encode_block(block: Block) -> bytes:
    """The block's RLP: ``[header, [transactions], [ommers], [withdrawals]?]`` (geth's format)."""
    parts = [
        encode_header(block.header),
        _rlp_list([_embedded(tx) for tx in block.transactions]),
        _rlp_list([encode_header(ommer) for ommer in block.ommers]),
    ]
    if block.withdrawals is not None:
        parts.append(_rlp_list([encode_withdrawal(w) for w in block.withdrawals]))
    return _rlp_list(parts)


def _transaction_at(buf: bytes, item: Item, index: int) -> Transaction:
    """The transaction embedded as ``item``, parsed once, with its hash and signing digest
    cached but its sender not yet recovered."""
    try:
        if item[0]:
            encoding = buf[item[1] : item[3]]
            tx, signed_payload = _decode_legacy(encoding)
        else:
            encoding = buf[item[2] : item[3]]
            if not encoding or encoding[0] >= 0x80:
                raise TransactionError(
                    "a typed transaction in a block is a byte string holding type || payload"
                    " (EIP-2718), and a legacy one is embedded as a list"
                )
            tx_type = encoding[0]
            if tx_type not in (ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE):
                reason = _UNSUPPORTED_TX_TYPES.get(tx_type, "unknown type")
                raise TransactionError(f"transaction type {tx_type} not supported ({reason})")
            tx, signed_payload = _decode_typed(encoding)
    except TransactionError as exc:
        raise BlockError(f"invalid block: transaction {index}: {exc}") from exc
    cache = tx.__dict__
    cache["hash"] = keccak256(encoding)
    cache["_signing_digest"] = keccak256(signed_payload)
    cache[_ENCODING_KEY] = encoding
    return tx


def decode_block(raw: bytes, *, recover: bool = True, chain_id: int | None = None) -> Block:
    """Decodes a block's RLP, strictly, parsing each transaction once.

    :param recover: with True (the default) every transaction is also checked with
        :func:`validate_transaction`, which recovers its sender, so the block is ready to
        execute. With False the transactions are only parsed: their hashes and signing digests
        are cached, and each sender is recovered when ``tx.sender`` is first read. An importer
        that recovers in parallel decodes with False, has worker processes run
        :func:`validate_transaction` (pickling a transaction carries its cached digest there
        and its sender back), and must not execute a transaction that was not validated.
    :param chain_id: the chain's id, checked against every transaction's when ``recover``;
        ``None`` accepts any (see :func:`validate_transaction`).
    :raises BlockError: naming what is wrong, with the transaction's index when it is one of
        them (the :class:`TransactionError` is chained).
    """
    buf = bytes(raw)
    top = _top_level(buf, "the block")
    parts = read_list(buf, top, "a block", "a block part", BlockError)
    if len(parts) not in (3, 4):
        raise BlockError(
            "invalid block: it has 3 parts (header, transactions, ommers) or 4 (and"
            f" withdrawals), got {len(parts)}"
        )
    header = _header_at(buf, parts[0], _THE_HEADER)
    tx_items = read_list(buf, parts[1], "the transaction list", "a transaction", BlockError)
    transactions = tuple(_transaction_at(buf, item, i) for i, item in enumerate(tx_items))
    ommers = tuple(
        _header_at(buf, item, f"ommer {i}")
        for i, item in enumerate(read_list(buf, parts[2], "the ommer list", "an ommer", BlockError))
    )
    withdrawals = None
    if len(parts) == 4:
        if header.withdrawals_root is None:
            raise BlockError(
                "invalid block: it has a withdrawals list but its header has no withdrawals root"
            )
        w_items = read_list(buf, parts[3], "the withdrawal list", "a withdrawal", BlockError)
        withdrawals = tuple(_withdrawal_at(buf, item) for item in w_items)
    elif header.withdrawals_root is not None:
        raise BlockError(
            "invalid block: its header has a withdrawals root but it has no withdrawals list"
        )
    if recover:
        for i, tx in enumerate(transactions):
            try:
                validate_transaction(tx, chain_id=chain_id)
            except TransactionError as exc:
                raise BlockError(f"invalid block: transaction {i}: {exc}") from exc
    return Block(header=header, transactions=transactions, ommers=ommers, withdrawals=withdrawals)


# --- commitments --------------------------------------------------------------------------------


def ordered_trie_root(encodings: Iterable[bytes]) -> bytes:
    """The root of the trie mapping ``rlp(i)`` to the i-th encoding: how a block commits to its
    transactions, receipts and withdrawals. Encodings are never empty (the trie would read an
    empty value as a deletion)."""
    trie = Trie()
    trie.update({encode_uint(i): encoding for i, encoding in enumerate(encodings)})
    return trie.root_hash()


def transactions_root(transactions: Iterable[Transaction]) -> bytes:
    """The header's ``transactions_root`` for these transactions, in order."""
    return ordered_trie_root(transaction_encoding(tx) for tx in transactions)


def withdrawals_root(withdrawals: Iterable[Withdrawal]) -> bytes:
    """The header's ``withdrawals_root`` for these withdrawals, in order."""
    return ordered_trie_root(encode_withdrawal(w) for w in withdrawals)


def ommers_hash(ommers: Iterable[BlockHeader]) -> bytes:
    """The header's ``ommers_hash``: keccak of the RLP list of the ommers' headers."""
    return keccak256(_rlp_list([encode_header(ommer) for ommer in ommers]))


def check_body(block: Block) -> None:
    """Checks that the body is the one the header commits to: its transactions root, ommers
    hash and withdrawals root.

    :raises BlockError: naming the first root that does not match.
    """
    header = block.header
    actual = transactions_root(block.transactions)
    if actual != header.transactions_root:
        raise BlockError(
            f"invalid block: the transactions root is 0x{actual.hex()},"
            f" the header says 0x{header.transactions_root.hex()}"
        )
    actual = ommers_hash(block.ommers)
    if actual != header.ommers_hash:
        raise BlockError(
            f"invalid block: the ommers hash is 0x{actual.hex()},"
            f" the header says 0x{header.ommers_hash.hex()}"
        )
    if block.withdrawals is not None:
        actual = withdrawals_root(block.withdrawals)
        if actual != header.withdrawals_root:
            assert header.withdrawals_root is not None  # Block's invariant
            raise BlockError(
                f"invalid block: the withdrawals root is 0x{actual.hex()},"
                f" the header says 0x{header.withdrawals_root.hex()}"
            )
