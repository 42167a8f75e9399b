"""Signed Ethereum transactions: legacy (with and without EIP-155), EIP-2930 and EIP-1559.

A transaction arrives as its network encoding (``eth_sendRawTransaction``, a block body): an RLP
list for a legacy transaction, ``type || rlp(fields)`` for a typed one (EIP-2718).
:func:`decode_transaction` accepts exactly the encodings Ethereum's Cancun rules accept and
nothing else, so every transaction has one encoding, ``encode_transaction(decode_transaction(raw))
== raw``, and its hash names it unambiguously. Blob (type 3) and set-code (type 4) transactions
are rejected: SuperVM carries no blobs and no delegations.

The sender is recovered once, with libsecp256k1 through coincurve, and kept on the transaction;
it travels with it when the transaction is pickled, so worker processes can recover senders in
parallel and hand back the result.
"""

from __future__ import annotations

import functools
from typing import Any, Final, TypeAlias

import attrs
import coincurve
import rlp

from supervm.chain.rlp_reader import (
    Item,
    bytes_field,
    encode_uint,
    list_items,
    list_prefix,
    read_header,
    uint_field,
)
from supervm.chain.rlp_reader import uint_bytes as _uint_bytes
from supervm.crypto import keccak256
from supervm.errors import SuperVMError

LEGACY_TX_TYPE: Final = 0
ACCESS_LIST_TX_TYPE: Final = 1
DYNAMIC_FEE_TX_TYPE: Final = 2
BLOB_TX_TYPE: Final = 3
SUPPORTED_TX_TYPES: Final = frozenset(
    {LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE}
)
#: The types with EIP-1559's two fee fields instead of a gas price.
_DYNAMIC_FEE_TYPES: Final = frozenset({DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE})
_UNSUPPORTED_TX_TYPES: Final = {
    4: "set-code transactions, EIP-7702",
}

# EIP-4844: blob gas. A blob transaction's blobs travel beside blocks (on the consensus layer),
# never in them; the execution layer sees only their versioned hashes and prices their gas.
GAS_PER_BLOB: Final = 2**17
TARGET_BLOB_GAS_PER_BLOCK: Final = 3 * GAS_PER_BLOB
MAX_BLOB_GAS_PER_BLOCK: Final = 6 * GAS_PER_BLOB
MIN_BASE_FEE_PER_BLOB_GAS: Final = 1
BLOB_BASE_FEE_UPDATE_FRACTION: Final = 3_338_477
VERSIONED_HASH_VERSION_KZG: Final = 0x01

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N: Final = SECP256K1_N // 2

UINT256_LIMIT: Final = 2**256
#: EIP-2681: a nonce must stay below 2**64 - 1 so that incrementing it never overflows.
NONCE_LIMIT: Final = 2**64 - 1
GAS_LIMIT_LIMIT: Final = 2**64

_LEGACY_CHAIN_ID_LIMIT: Final = (UINT256_LIMIT - 36) // 2

ADDRESS_SIZE: Final = 20
STORAGE_KEY_SIZE: Final = 32

# Intrinsic gas under the Cancun rules.
TX_GAS: Final = 21_000
TX_CREATE_GAS: Final = 32_000
TX_DATA_ZERO_GAS: Final = 4
TX_DATA_NONZERO_GAS: Final = 16  # EIP-2028
INITCODE_WORD_GAS: Final = 2  # EIP-3860
MAX_INITCODE_SIZE: Final = 49_152  # EIP-3860
ACCESS_LIST_ADDRESS_GAS: Final = 2_400  # EIP-2930
ACCESS_LIST_STORAGE_KEY_GAS: Final = 1_900  # EIP-2930

#: ``((address, (storage_key, ...)), ...)``: 20-byte addresses, 32-byte keys.
AccessList: TypeAlias = tuple[tuple[bytes, tuple[bytes, ...]], ...]


class TransactionError(SuperVMError):
    """A transaction is malformed, badly signed or can never be valid under the Cancun rules."""


@attrs.frozen(kw_only=True, slots=False)
class UnsignedTransaction:
    """The fields a sender signs; :class:`Transaction` adds the signature.

    Construction checks every rule that concerns one field alone (sizes, ranges, which fee
    fields the type has), so no instance holds a value Ethereum could not encode. Rules that
    relate fields to each other or to gas (intrinsic gas, tip not above the fee cap) are
    :func:`validate_transaction`'s.

    :param type: 0 (legacy), 1 (EIP-2930) or 2 (EIP-1559).
    :param chain_id: the chain the transaction is for; ``None`` only for a legacy transaction
        without EIP-155 replay protection, which is valid on every chain.
    :param gas_price: legacy and EIP-2930 transactions only.
    :param max_priority_fee_per_gas: EIP-1559 transactions only.
    :param max_fee_per_gas: EIP-1559 transactions only.
    :param gas: the gas limit.
    :param to: the 20-byte recipient, ``None`` for a contract creation.
    :param access_list: EIP-2930, EIP-1559 and blob transactions only.
    :param max_fee_per_blob_gas: blob transactions (type 3, EIP-4844) only.
    :param blob_versioned_hashes: blob transactions only: the 32-byte versioned hashes of the
        blobs (at least one; the blobs themselves are never part of the transaction).
    """

    type: int
    chain_id: int | None
    nonce: int
    gas_price: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_gas: int | None = None
    gas: int
    to: bytes | None
    value: int = 0
    data: bytes = b""
    access_list: AccessList = ()
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: tuple[bytes, ...] = ()

    def __attrs_post_init__(self) -> None:
        _check_fields(self)

    @property
    def blob_gas(self) -> int:
        """The blob gas the transaction uses (EIP-4844): a fixed amount per blob."""
        return GAS_PER_BLOB * len(self.blob_versioned_hashes)

    @property
    def is_create(self) -> bool:
        """Whether the transaction creates a contract."""
        return self.to is None


@attrs.frozen(kw_only=True, slots=False)
class Transaction(UnsignedTransaction):
    """A signed transaction; build one with :func:`decode_transaction` or :func:`sign_transaction`.

    :param y_parity: the parity of the signature's R point (0 or 1), for every type; a legacy
        transaction's ``v`` is derived from it and ``chain_id`` (:attr:`v`).
    :param r: the signature's r, in ``[1, secp256k1n)``.
    :param s: the signature's s, in ``[1, secp256k1n / 2]`` (EIP-2).

    ``hash`` and ``sender`` are computed once and cached (the class is not slotted for that
    reason); a constructed transaction whose signature recovers no key raises
    :class:`TransactionError` when ``sender`` is read.
    """

    y_parity: int
    r: int
    s: int

    def __attrs_post_init__(self) -> None:
        _check_fields(self)
        if self.y_parity not in (0, 1):
            raise TransactionError(
                f"invalid signature: y_parity must be 0 or 1, got {self.y_parity}"
            )
        if not 0 < self.r < SECP256K1_N:
            raise TransactionError("invalid signature: r must be in [1, secp256k1n)")
        if not 0 < self.s <= SECP256K1_HALF_N:
            if self.s > SECP256K1_HALF_N:
                raise TransactionError("invalid signature: s above secp256k1n/2 (EIP-2)")
            raise TransactionError("invalid signature: s must not be 0")

    @property
    def v(self) -> int:
        """The ``v`` of the network encoding: ``y_parity`` for typed transactions, 27/28 or
        ``chain_id * 2 + 35/36`` (EIP-155) for legacy ones."""
        if self.type != LEGACY_TX_TYPE:
            return self.y_parity
        if self.chain_id is None:
            return 27 + self.y_parity
        return self.chain_id * 2 + 35 + self.y_parity

    @functools.cached_property
    def hash(self) -> bytes:
        """Keccak-256 of the network encoding: the transaction's identity."""
        return keccak256(encode_transaction(self))

    @functools.cached_property
    def sender(self) -> bytes:
        """The 20-byte address that signed the transaction."""
        return _recover_sender(self._signing_digest, self.y_parity, self.r, self.s)

    @functools.cached_property
    def _signing_digest(self) -> bytes:
        return signing_hash(self)


def _check_uint(value: int, limit: int, name: str, bound: str) -> None:
    if not 0 <= value < limit:
        raise TransactionError(f"{name} must be in [0, {bound}), got {value}")


def _check_fields(tx: UnsignedTransaction) -> None:
    """The single-field rules every transaction satisfies, in one place so that decoding,
    signing and direct construction all enforce them."""
    tx_type = tx.type
    if tx_type not in SUPPORTED_TX_TYPES:
        reason = _UNSUPPORTED_TX_TYPES.get(tx_type, "unknown type")
        raise TransactionError(f"transaction type {tx_type} not supported ({reason})")
    if tx.chain_id is None:
        if tx_type != LEGACY_TX_TYPE:
            raise TransactionError(f"invalid chain id: a type {tx_type} transaction needs one")
    elif tx_type == LEGACY_TX_TYPE:
        # EIP-155 folds the chain id into v, which is a 256-bit integer like every other.
        _check_uint(tx.chain_id, _LEGACY_CHAIN_ID_LIMIT, "chain id", "(2**256 - 36) / 2")
    else:
        _check_uint(tx.chain_id, UINT256_LIMIT, "chain id", "2**256")
    if tx.nonce >= NONCE_LIMIT or tx.nonce < 0:
        raise TransactionError(f"nonce must be in [0, 2**64 - 1) (EIP-2681), got {tx.nonce}")
    if tx_type in _DYNAMIC_FEE_TYPES:
        if tx.gas_price is not None:
            raise TransactionError("an EIP-1559 transaction has no gas_price")
        if tx.max_priority_fee_per_gas is None or tx.max_fee_per_gas is None:
            raise TransactionError(
                "an EIP-1559 transaction needs max_priority_fee_per_gas and max_fee_per_gas"
            )
        _check_uint(
            tx.max_priority_fee_per_gas, UINT256_LIMIT, "max priority fee per gas", "2**256"
        )
        _check_uint(tx.max_fee_per_gas, UINT256_LIMIT, "max fee per gas", "2**256")
    else:
        if tx.gas_price is None:
            raise TransactionError(f"a type {tx_type} transaction needs a gas_price")
        if tx.max_priority_fee_per_gas is not None or tx.max_fee_per_gas is not None:
            raise TransactionError(f"a type {tx_type} transaction has no EIP-1559 fee fields")
        _check_uint(tx.gas_price, UINT256_LIMIT, "gas price", "2**256")
    _check_uint(tx.gas, GAS_LIMIT_LIMIT, "gas limit", "2**64")
    if tx.to is not None and len(tx.to) != ADDRESS_SIZE:
        raise TransactionError(
            f"to must be {ADDRESS_SIZE} bytes (or empty for a create), got {len(tx.to)}"
        )
    _check_uint(tx.value, UINT256_LIMIT, "value", "2**256")
    if tx_type == BLOB_TX_TYPE:
        _check_blob_fields(tx)
    elif tx.max_fee_per_blob_gas is not None or tx.blob_versioned_hashes:
        raise TransactionError(f"a type {tx_type} transaction has no blob fields")
    if tx.access_list:
        if tx_type == LEGACY_TX_TYPE:
            raise TransactionError("a legacy transaction has no access list")
        for address, keys in tx.access_list:
            if len(address) != ADDRESS_SIZE:
                raise TransactionError(
                    f"access list address must be {ADDRESS_SIZE} bytes, got {len(address)}"
                )
            for key in keys:
                if len(key) != STORAGE_KEY_SIZE:
                    raise TransactionError(
                        f"access list storage key must be {STORAGE_KEY_SIZE} bytes, got {len(key)}"
                    )


def _check_blob_fields(tx: UnsignedTransaction) -> None:
    if tx.max_fee_per_blob_gas is None:
        raise TransactionError("a blob transaction needs max_fee_per_blob_gas")
    _check_uint(tx.max_fee_per_blob_gas, UINT256_LIMIT, "max fee per blob gas", "2**256")
    if tx.to is None:
        raise TransactionError("a blob transaction cannot create a contract (EIP-4844)")
    for versioned_hash in tx.blob_versioned_hashes:
        if len(versioned_hash) != 32:
            raise TransactionError(
                f"a blob versioned hash must be 32 bytes, got {len(versioned_hash)}"
            )


# --- stateless validity ------------------------------------------------------------------------


def intrinsic_gas(tx: UnsignedTransaction) -> int:
    """The gas a transaction costs before it executes anything, under the Cancun rules."""
    data = tx.data
    zeros = data.count(0)
    gas = TX_GAS + zeros * TX_DATA_ZERO_GAS + (len(data) - zeros) * TX_DATA_NONZERO_GAS
    if tx.to is None:
        gas += TX_CREATE_GAS + INITCODE_WORD_GAS * ((len(data) + 31) // 32)
    for _address, keys in tx.access_list:
        gas += ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_STORAGE_KEY_GAS * len(keys)
    return gas


def blob_base_fee(excess_blob_gas: int) -> int:
    """The price of blob gas in a block with ``excess_blob_gas`` (EIP-4844's fake exponential:
    ``MIN_BASE_FEE_PER_BLOB_GAS * e ** (excess / BLOB_BASE_FEE_UPDATE_FRACTION)`` in integers)."""
    i = 1
    output = 0
    numerator_accum = MIN_BASE_FEE_PER_BLOB_GAS * BLOB_BASE_FEE_UPDATE_FRACTION
    while numerator_accum > 0:
        output += numerator_accum
        numerator_accum = (numerator_accum * excess_blob_gas) // (BLOB_BASE_FEE_UPDATE_FRACTION * i)
        i += 1
    return output // BLOB_BASE_FEE_UPDATE_FRACTION


def next_excess_blob_gas(parent_excess: int | None, parent_used: int | None) -> int:
    """The excess blob gas of a child of a block with these blob gas fields (EIP-4844)."""
    total = (parent_excess or 0) + (parent_used or 0)
    return max(0, total - TARGET_BLOB_GAS_PER_BLOCK)


def fee_cap(tx: UnsignedTransaction) -> int:
    """The most a transaction pays per gas: its max fee, or its gas price."""
    fee = tx.max_fee_per_gas if tx.type in _DYNAMIC_FEE_TYPES else tx.gas_price
    assert fee is not None  # _check_fields guarantees the type's fee fields
    return fee


def tip_cap(tx: UnsignedTransaction) -> int:
    """The most a transaction offers the block's producer per gas above the base fee."""
    tip = tx.max_priority_fee_per_gas if tx.type in _DYNAMIC_FEE_TYPES else tx.gas_price
    assert tip is not None
    return tip


def validate_transaction(tx: Transaction, *, chain_id: int | None = None) -> None:
    """Checks the rules that need no state: the chain id, fee fields against each other, the
    initcode size, the intrinsic gas, and that the signature recovers a sender.

    :param chain_id: the chain's id; ``None`` accepts any (for tools that read every network's
        transactions; a node always passes its own). Legacy transactions without EIP-155 are
        valid on every chain.
    :raises TransactionError: naming the first rule the transaction breaks.
    """
    if chain_id is not None and tx.chain_id is not None and tx.chain_id != chain_id:
        raise TransactionError(
            f"invalid chain id: the transaction is for chain {tx.chain_id}, not {chain_id}"
        )
    if tx.type in _DYNAMIC_FEE_TYPES:
        assert tx.max_priority_fee_per_gas is not None and tx.max_fee_per_gas is not None
        if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
            raise TransactionError(
                f"max priority fee per gas {tx.max_priority_fee_per_gas} above"
                f" max fee per gas {tx.max_fee_per_gas}"
            )
    # The sender must be able to pay gas * fee cap in a 256-bit balance.
    if tx.gas * fee_cap(tx) >= UINT256_LIMIT:
        raise TransactionError("gas limit times fee cap overflows 256 bits")
    if tx.to is None and len(tx.data) > MAX_INITCODE_SIZE:
        raise TransactionError(
            f"initcode size {len(tx.data)} exceeds the limit of {MAX_INITCODE_SIZE} (EIP-3860)"
        )
    if tx.type == BLOB_TX_TYPE:
        if not tx.blob_versioned_hashes:
            raise TransactionError("a blob transaction needs at least one blob (EIP-4844)")
        if tx.blob_gas > MAX_BLOB_GAS_PER_BLOCK:
            raise TransactionError(
                f"blob gas {tx.blob_gas} above the block limit of {MAX_BLOB_GAS_PER_BLOCK}"
            )
        for versioned_hash in tx.blob_versioned_hashes:
            if versioned_hash[0] != VERSIONED_HASH_VERSION_KZG:
                raise TransactionError(
                    f"blob versioned hash 0x{versioned_hash.hex()} has version "
                    f"{versioned_hash[0]}, not {VERSIONED_HASH_VERSION_KZG} (KZG)"
                )
    needed = intrinsic_gas(tx)
    if tx.gas < needed:
        raise TransactionError(f"intrinsic gas too low: gas limit {tx.gas}, intrinsic gas {needed}")
    tx.sender  # noqa: B018 - recovering the sender is the check, and caches it


def effective_gas_price(tx: UnsignedTransaction, base_fee: int) -> int:
    """What the sender pays per gas in a block with ``base_fee`` (EIP-1559).

    :raises TransactionError: if the transaction's fee cap is below the base fee, so it cannot
        be included in that block.
    """
    cap = fee_cap(tx)
    if cap < base_fee:
        raise TransactionError(f"fee cap {cap} below the block's base fee {base_fee}")
    if tx.type in _DYNAMIC_FEE_TYPES:
        assert tx.max_priority_fee_per_gas is not None
        return min(cap, base_fee + tx.max_priority_fee_per_gas)
    return cap


def effective_tip(tx: UnsignedTransaction, base_fee: int) -> int:
    """What the block's producer earns per gas: the effective gas price less the base fee."""
    return effective_gas_price(tx, base_fee) - base_fee


# --- encoding and signing ----------------------------------------------------------------------


def _encode_access_list(access_list: AccessList) -> list[Any]:
    return [[address, list(keys)] for address, keys in access_list]


def _unsigned_items(tx: UnsignedTransaction) -> list[Any]:
    to = b"" if tx.to is None else tx.to
    if tx.type == LEGACY_TX_TYPE:
        assert tx.gas_price is not None
        return [
            _uint_bytes(tx.nonce),
            _uint_bytes(tx.gas_price),
            _uint_bytes(tx.gas),
            to,
            _uint_bytes(tx.value),
            tx.data,
        ]
    assert tx.chain_id is not None
    if tx.type == ACCESS_LIST_TX_TYPE:
        assert tx.gas_price is not None
        fees = [_uint_bytes(tx.gas_price)]
    else:
        assert tx.max_priority_fee_per_gas is not None and tx.max_fee_per_gas is not None
        fees = [_uint_bytes(tx.max_priority_fee_per_gas), _uint_bytes(tx.max_fee_per_gas)]
    items = [
        _uint_bytes(tx.chain_id),
        _uint_bytes(tx.nonce),
        *fees,
        _uint_bytes(tx.gas),
        to,
        _uint_bytes(tx.value),
        tx.data,
        _encode_access_list(tx.access_list),
    ]
    if tx.type == BLOB_TX_TYPE:
        assert tx.max_fee_per_blob_gas is not None
        items += [_uint_bytes(tx.max_fee_per_blob_gas), list(tx.blob_versioned_hashes)]
    return items


def _rlp_encode(items: list[Any]) -> bytes:
    # The items are already bytes and lists: skip rlp's per-item sedes inference (3x slower).
    encoded: bytes = rlp.encode(items, infer_serializer=False)
    return encoded


def signing_hash(tx: UnsignedTransaction) -> bytes:
    """The 32-byte digest the sender signs (EIP-155 for legacy, EIP-2718 for typed)."""
    items = _unsigned_items(tx)
    if tx.type == LEGACY_TX_TYPE:
        if tx.chain_id is not None:
            items += [_uint_bytes(tx.chain_id), b"", b""]
        return keccak256(_rlp_encode(items))
    return keccak256(bytes((tx.type,)) + _rlp_encode(items))


def encode_transaction(tx: Transaction) -> bytes:
    """The network encoding: ``rlp(fields)`` for legacy, ``type || rlp(fields)`` for typed."""
    items = _unsigned_items(tx)
    items += [_uint_bytes(tx.v), _uint_bytes(tx.r), _uint_bytes(tx.s)]
    if tx.type == LEGACY_TX_TYPE:
        return _rlp_encode(items)
    return bytes((tx.type,)) + _rlp_encode(items)


def _address_of(public_key: coincurve.PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def _recover_sender(digest: bytes, y_parity: int, r: int, s: int) -> bytes:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except ValueError as exc:  # no curve point with x = r, or the point at infinity
        raise TransactionError("invalid signature: the sender cannot be recovered") from exc
    return _address_of(public_key)


_UNSIGNED_FIELDS: Final = tuple(field.name for field in attrs.fields(UnsignedTransaction))


def sign_transaction(unsigned: UnsignedTransaction, private_key: bytes) -> Transaction:
    """Signs ``unsigned`` with a 32-byte secp256k1 private key (dev accounts, tests).

    The result satisfies every single-field rule, but not necessarily
    :func:`validate_transaction`'s: a wallet may sign a transaction no chain will accept.
    """
    # coincurve left-pads short keys (and makes up a random one for None): insist on 32 bytes.
    if not isinstance(private_key, bytes) or len(private_key) != 32:
        raise TransactionError("invalid private key: must be 32 bytes")
    try:
        key = coincurve.PrivateKey(private_key)
    except (ValueError, TypeError) as exc:
        raise TransactionError(f"invalid private key: {exc}") from exc
    digest = signing_hash(unsigned)
    # libsecp256k1 signs deterministically (RFC 6979) and always returns the low s of EIP-2.
    signature = key.sign_recoverable(digest, hasher=None)
    fields = {name: getattr(unsigned, name) for name in _UNSIGNED_FIELDS}
    tx = Transaction(
        **fields,
        y_parity=signature[64],
        r=int.from_bytes(signature[:32], "big"),
        s=int.from_bytes(signature[32:64], "big"),
    )
    # Seed the caches: the signer's address is known without a recovery.
    tx.__dict__["_signing_digest"] = digest
    tx.__dict__["sender"] = _address_of(key.public_key)
    return tx


# --- decoding ----------------------------------------------------------------------------------
#
# A transaction has a fixed shape (a list of byte strings with at most one access list, two
# levels deeper), so it is read by the strict reader of :mod:`supervm.chain.rlp_reader`, which
# follows that shape instead of a general RLP decoder (see that module for why), and knows where
# each field starts, which gives the signing digest as a slice of the input instead of a
# re-encoding. The tests check it against ``rlp.decode(strict=True)``.


def _to_field(buf: bytes, item: Item) -> bytes | None:
    to = bytes_field(buf, item, "to", TransactionError)
    return to or None


def _access_list_field(buf: bytes, item: Item) -> AccessList:
    if not item[0]:
        raise TransactionError("invalid RLP: the access list must be a list")
    entries = []
    for entry in list_items(buf, item[2], item[3], "an access list entry", TransactionError):
        if not entry[0]:
            raise TransactionError("invalid RLP: an access list entry must be a list")
        parts = list_items(
            buf, entry[2], entry[3], "an access list entry's field", TransactionError
        )
        if len(parts) != 2:
            raise TransactionError(
                f"invalid RLP: an access list entry has 2 fields (address, storage keys),"
                f" got {len(parts)}"
            )
        address = bytes_field(buf, parts[0], "an access list address", TransactionError)
        if not parts[1][0]:
            raise TransactionError("invalid RLP: access list storage keys must be a list")
        keys = tuple(
            bytes_field(buf, key, "an access list storage key", TransactionError)
            for key in list_items(buf, parts[1][2], parts[1][3], "a storage key", TransactionError)
        )
        entries.append((address, keys))
    return tuple(entries)


def _fields(buf: bytes, offset: int, expected: int, kind: str) -> tuple[int, list[Any]]:
    """The items of the top-level list at ``offset``, which must end the input."""
    is_list, start, stop = read_header(buf, offset, len(buf), "the transaction", TransactionError)
    if not is_list:
        raise TransactionError(f"invalid RLP: {kind} must be an RLP list")
    if stop != len(buf):
        raise TransactionError(
            f"invalid RLP: trailing bytes after the transaction ({len(buf) - stop})"
        )
    items = list_items(buf, start, stop, "a transaction field", TransactionError)
    if len(items) != expected:
        raise TransactionError(f"invalid RLP: {kind} has {expected} fields, got {len(items)}")
    return start, items


def _decode_legacy(raw: bytes) -> tuple[Transaction, bytes]:
    start, items = _fields(raw, 0, 9, "a legacy transaction")
    v = uint_field(raw, items[6], "v", TransactionError)
    chain_id: int | None
    if v in (27, 28):
        chain_id, y_parity = None, v - 27
    elif v >= 35:
        chain_id, y_parity = (v - 35) >> 1, (v - 35) & 1
    else:
        raise TransactionError(
            f"invalid chain id: v = {v} is neither 27/28 nor chain_id * 2 + 35/36 (EIP-155)"
        )
    tx = Transaction(
        type=LEGACY_TX_TYPE,
        chain_id=chain_id,
        nonce=uint_field(raw, items[0], "nonce", TransactionError),
        gas_price=uint_field(raw, items[1], "gas price", TransactionError),
        gas=uint_field(raw, items[2], "gas limit", TransactionError),
        to=_to_field(raw, items[3]),
        value=uint_field(raw, items[4], "value", TransactionError),
        data=bytes_field(raw, items[5], "data", TransactionError),
        y_parity=y_parity,
        r=uint_field(raw, items[7], "r", TransactionError),
        s=uint_field(raw, items[8], "s", TransactionError),
    )
    # The signed payload is the first six fields as they stand in the (canonical) input,
    # followed for EIP-155 by chain_id, 0, 0.
    unsigned = raw[start : items[6][1]]
    if chain_id is not None:
        unsigned += encode_uint(chain_id) + b"\x80\x80"
    return tx, list_prefix(len(unsigned)) + unsigned


def _blob_hashes_field(buf: bytes, item: Item) -> tuple[bytes, ...]:
    if not item[0]:
        raise TransactionError("invalid RLP: the blob versioned hashes must be a list")
    return tuple(
        bytes_field(buf, entry, "a blob versioned hash", TransactionError)
        for entry in list_items(buf, item[2], item[3], "a blob versioned hash", TransactionError)
    )


def _decode_typed(raw: bytes) -> tuple[Transaction, bytes]:
    tx_type = raw[0]
    expected = {ACCESS_LIST_TX_TYPE: 11, DYNAMIC_FEE_TX_TYPE: 12, BLOB_TX_TYPE: 14}[tx_type]
    kind = f"a type {tx_type} transaction"
    start, items = _fields(raw, 1, expected, kind)
    gas_price = max_priority_fee = max_fee = None
    if tx_type == ACCESS_LIST_TX_TYPE:
        gas_price = uint_field(raw, items[2], "gas price", TransactionError)
        rest = items[3:]
    else:
        max_priority_fee = uint_field(raw, items[2], "max priority fee per gas", TransactionError)
        max_fee = uint_field(raw, items[3], "max fee per gas", TransactionError)
        rest = items[4:]
    max_fee_per_blob_gas = None
    blob_hashes: tuple[bytes, ...] = ()
    if tx_type == BLOB_TX_TYPE:
        max_fee_per_blob_gas = uint_field(raw, rest[5], "max fee per blob gas", TransactionError)
        blob_hashes = _blob_hashes_field(raw, rest[6])
        rest = rest[:5] + rest[7:]
    tx = Transaction(
        type=tx_type,
        chain_id=uint_field(raw, items[0], "chain id", TransactionError),
        nonce=uint_field(raw, items[1], "nonce", TransactionError),
        gas_price=gas_price,
        max_priority_fee_per_gas=max_priority_fee,
        max_fee_per_gas=max_fee,
        gas=uint_field(raw, rest[0], "gas limit", TransactionError),
        to=_to_field(raw, rest[1]),
        value=uint_field(raw, rest[2], "value", TransactionError),
        data=bytes_field(raw, rest[3], "data", TransactionError),
        access_list=_access_list_field(raw, rest[4]),
        max_fee_per_blob_gas=max_fee_per_blob_gas,
        blob_versioned_hashes=blob_hashes,
        y_parity=uint_field(raw, rest[5], "y_parity", TransactionError),
        r=uint_field(raw, rest[6], "r", TransactionError),
        s=uint_field(raw, rest[7], "s", TransactionError),
    )
    unsigned = raw[start : rest[5][1]]
    return tx, raw[:1] + list_prefix(len(unsigned)) + unsigned


def decode_transaction(
    raw: bytes, *, chain_id: int | None = None, sender: bytes | None = None
) -> Transaction:
    """Decodes and validates a transaction's network encoding.

    Accepts only canonical RLP with the type's exact fields, integers without leading zeros,
    and values in range; then applies :func:`validate_transaction` (chain id, fees, initcode
    size, intrinsic gas) and recovers the sender, so the result is a transaction the Cancun
    rules accept in some state.

    :param chain_id: the chain's id; ``None`` accepts any (see :func:`validate_transaction`).
    :param sender: the sender already recovered from exactly this encoding (by a worker
        process, :func:`supervm.chain.senders.recover_encoded`), so that it is not recovered
        again; never a sender from anywhere else.
    :raises TransactionError: naming what is wrong.
    """
    raw = bytes(raw)
    if not raw:
        raise TransactionError("invalid RLP: empty transaction")
    first = raw[0]
    if first >= 0xC0:
        tx, signed_payload = _decode_legacy(raw)
    elif first in (ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE):
        tx, signed_payload = _decode_typed(raw)
    elif first < 0x80:
        reason = _UNSUPPORTED_TX_TYPES.get(first, "unknown type")
        raise TransactionError(f"transaction type {first} not supported ({reason})")
    else:
        raise TransactionError(
            f"invalid RLP: first byte 0x{first:02x} is neither a transaction type (below 0x80)"
            " nor the start of a list"
        )
    # A canonical encoding is unique, so the input is the encoding the hash is defined over.
    tx.__dict__["hash"] = keccak256(raw)
    tx.__dict__["_signing_digest"] = keccak256(signed_payload)
    # Kept for block bodies and the transactions root (the key blocks.transaction_encoding
    # reads): re-encoding costs as much as decoding.
    tx.__dict__["_encoding"] = bytes(raw)
    if sender is not None:
        tx.__dict__["sender"] = sender  # what the cached ``sender`` property reads
    validate_transaction(tx, chain_id=chain_id)
    return tx
