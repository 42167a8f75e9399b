"""Signed transactions: round trips, strict decoding, signatures, gas and fees."""

from __future__ import annotations

import pickle
import time
from typing import Any

import attrs
import coincurve
import pytest
import rlp
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from supervm.chain import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    Transaction,
    TransactionError,
    UnsignedTransaction,
    decode_transaction,
    effective_gas_price,
    effective_tip,
    encode_transaction,
    intrinsic_gas,
    sign_transaction,
    signing_hash,
    validate_transaction,
)
from supervm.crypto import keccak256

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
RECIPIENT = bytes.fromhex("3535353535353535353535353535353535353535")


def address_of(private_key: bytes) -> bytes:
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return keccak256(public[1:])[12:]


def reference_intrinsic_gas(tx: UnsignedTransaction) -> int:
    """The Cancun intrinsic gas written out the long way."""
    gas = 21000
    for byte in tx.data:
        gas += 4 if byte == 0 else 16
    if tx.to is None:
        gas += 32000
        words = len(tx.data) // 32 + (1 if len(tx.data) % 32 else 0)
        gas += 2 * words
    for _address, keys in tx.access_list:
        gas += 2400
        for _key in keys:
            gas += 1900
    return gas


# --- strategies ---------------------------------------------------------------------------------

private_keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
addresses = st.binary(min_size=20, max_size=20)
# Mostly small values, where the encodings' edge cases (0, single bytes below 0x80) live.
uint256 = st.one_of(st.integers(0, 300), st.integers(0, 2**256 - 1))
fees = st.one_of(st.integers(0, 300), st.integers(0, 2**190))
access_lists = st.lists(
    st.tuples(addresses, st.lists(st.binary(min_size=32, max_size=32), max_size=3).map(tuple)),
    max_size=3,
).map(tuple)


@st.composite
def unsigned_transactions(draw: st.DrawFn, tx_type: int | None = None) -> UnsignedTransaction:
    """Transactions that pass every stateless rule, so that decoding accepts them."""
    if tx_type is None:
        tx_type = draw(st.sampled_from([LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE]))
    chain_ids = st.one_of(st.integers(0, 2**64), st.integers(0, 2**200))
    chain_id = draw(st.none() | chain_ids if tx_type == LEGACY_TX_TYPE else chain_ids)
    fields: dict[str, Any] = {}
    if tx_type == DYNAMIC_FEE_TX_TYPE:
        max_fee = draw(fees)
        fields["max_fee_per_gas"] = max_fee
        fields["max_priority_fee_per_gas"] = draw(st.integers(0, max_fee))
    else:
        fields["gas_price"] = draw(fees)
    unsigned = UnsignedTransaction(
        type=tx_type,
        chain_id=chain_id,
        nonce=draw(st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 2))),
        gas=0,
        to=draw(st.none() | addresses),
        value=draw(uint256),
        data=draw(st.binary(max_size=100)),
        access_list=() if tx_type == LEGACY_TX_TYPE else draw(access_lists),
        **fields,
    )
    headroom = draw(st.one_of(st.integers(0, 100_000), st.integers(0, 2**63)))
    return attrs.evolve(unsigned, gas=intrinsic_gas(unsigned) + headroom)


@st.composite
def signed_raw(draw: st.DrawFn) -> tuple[Transaction, bytes]:
    tx = sign_transaction(draw(unsigned_transactions()), draw(private_keys))
    return tx, encode_transaction(tx)


def transfer(**changes: Any) -> UnsignedTransaction:
    base = UnsignedTransaction(
        type=DYNAMIC_FEE_TX_TYPE,
        chain_id=1,
        nonce=7,
        max_priority_fee_per_gas=2_000_000_000,
        max_fee_per_gas=30_000_000_000,
        gas=21000,
        to=RECIPIENT,
        value=10**18,
    )
    return attrs.evolve(base, **changes)


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE])
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_sign_encode_decode_round_trips(tx_type: int, data: st.DataObject) -> None:
    unsigned = data.draw(unsigned_transactions(tx_type))
    key = data.draw(private_keys)
    tx = sign_transaction(unsigned, key)
    raw = encode_transaction(tx)
    decoded = decode_transaction(raw, chain_id=unsigned.chain_id)
    assert decoded == tx
    assert {f.name: getattr(decoded, f.name) for f in attrs.fields(UnsignedTransaction)} == {
        f.name: getattr(unsigned, f.name) for f in attrs.fields(UnsignedTransaction)
    }
    assert decoded.hash == tx.hash == keccak256(raw)
    assert decoded.sender == tx.sender == address_of(key)
    # Without the caches decoding and signing seed, everything is derived from the fields.
    fresh = attrs.evolve(decoded)
    assert (fresh.hash, fresh.sender) == (tx.hash, tx.sender)
    assert signing_hash(fresh) == signing_hash(unsigned)


@given(unsigned=unsigned_transactions(), key=private_keys)
@settings(max_examples=60, deadline=None)
def test_encoding_matches_eth_account(unsigned: UnsignedTransaction, key: bytes) -> None:
    # An independent implementation: same fields and key, the same bytes (both sign with
    # RFC 6979 nonces, so the signatures agree too).
    assume(unsigned.chain_id is None or unsigned.chain_id < 2**63)
    fields: dict[str, Any] = {
        "nonce": unsigned.nonce,
        "gas": unsigned.gas,
        "to": to_checksum_address(unsigned.to) if unsigned.to is not None else "",
        "value": unsigned.value,
        "data": unsigned.data,
    }
    if unsigned.chain_id is not None:
        fields["chainId"] = unsigned.chain_id
    if unsigned.type == DYNAMIC_FEE_TX_TYPE:
        fields["maxFeePerGas"] = unsigned.max_fee_per_gas
        fields["maxPriorityFeePerGas"] = unsigned.max_priority_fee_per_gas
    else:
        fields["gasPrice"] = unsigned.gas_price
    if unsigned.type != LEGACY_TX_TYPE:
        fields["type"] = unsigned.type
        fields["accessList"] = [
            {"address": to_checksum_address(a), "storageKeys": ["0x" + k.hex() for k in keys]}
            for a, keys in unsigned.access_list
        ]
    reference = Account.sign_transaction(fields, key)
    tx = sign_transaction(unsigned, key)
    assert encode_transaction(tx) == bytes(reference.raw_transaction)
    assert tx.hash == bytes(reference.hash)


@given(signed=signed_raw())
@settings(max_examples=40, deadline=None)
def test_pickling_keeps_fields_and_caches(signed: tuple[Transaction, bytes]) -> None:
    tx, raw = signed
    decoded = decode_transaction(raw)
    copy = pickle.loads(pickle.dumps(decoded))
    assert copy == decoded
    # A worker process recovers the sender once; the result travels with the transaction.
    assert {"hash", "sender"} <= copy.__dict__.keys()
    assert (copy.hash, copy.sender) == (tx.hash, tx.sender)


# --- strictness ---------------------------------------------------------------------------------


def _check_corrupted(corrupted: bytes, original: Transaction) -> None:
    try:
        decoded = decode_transaction(corrupted)
    except TransactionError:
        return
    assert decoded.hash != original.hash
    # Whatever decodes is canonical: it is its own unique encoding...
    assert encode_transaction(decoded) == corrupted
    # ...and the reference decoder, in strict mode, accepts it too.
    rlp.decode(corrupted[1:] if corrupted[0] < 0x80 else corrupted, strict=True)


@given(signed=signed_raw(), data=st.data())
@settings(max_examples=300, deadline=None)
def test_single_byte_corruption_is_rejected_or_changes_the_hash(
    signed: tuple[Transaction, bytes], data: st.DataObject
) -> None:
    tx, raw = signed
    index = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    _check_corrupted(raw[:index] + bytes((byte,)) + raw[index + 1 :], tx)


@given(signed=signed_raw(), data=st.data())
@settings(max_examples=100, deadline=None)
def test_truncation_insertion_and_deletion(
    signed: tuple[Transaction, bytes], data: st.DataObject
) -> None:
    tx, raw = signed
    index = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(TransactionError):
        decode_transaction(raw[:index])
    _check_corrupted(raw[:index] + raw[index + 1 :], tx)
    _check_corrupted(raw[:index] + data.draw(st.binary(min_size=1, max_size=3)) + raw[index:], tx)


@given(raw=st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise_another_error(raw: bytes) -> None:
    try:
        decoded = decode_transaction(raw)
    except TransactionError:
        return
    assert encode_transaction(decoded) == raw


def _legacy_with_data_item(item: bytes) -> bytes:
    """A legacy transaction's encoding whose data field is the given raw RLP item."""
    tx = sign_transaction(
        UnsignedTransaction(type=0, chain_id=1, nonce=0, gas_price=1, gas=21000, to=RECIPIENT),
        KEY,
    )
    items = rlp.decode(encode_transaction(tx))
    before = b"".join(rlp.encode(x) for x in items[:5])
    after = b"".join(rlp.encode(x) for x in items[6:])
    payload = before + item + after
    return bytes(rlp.codec.length_prefix(len(payload), 0xC0)) + payload


def test_deeply_nested_input_is_an_rlp_error_not_a_recursion_error() -> None:
    nested = b""
    for _ in range(5000):
        nested = bytes(rlp.codec.length_prefix(len(nested), 0xC0)) + nested
    with pytest.raises(TransactionError, match="data must be a byte string"):
        decode_transaction(_legacy_with_data_item(nested))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (b"\x81\x05", "single byte below 0x80"),
        (b"\xb8\x01\x05", "long form"),
        (b"\xb9\x00\x38" + bytes(56), "leading zero"),
        (b"\x85\x01", "runs past the end"),
    ],
)
def test_non_canonical_rlp_is_rejected(item: bytes, message: str) -> None:
    with pytest.raises(TransactionError, match=message):
        decode_transaction(_legacy_with_data_item(item))


def test_large_access_list_decodes_in_linear_time() -> None:
    # The rlp package's decoder copies a list's encoding once per item: about 4 s for this
    # list. The transaction reader touches each byte a constant number of times (0.08 s).
    keys = tuple(i.to_bytes(32, "big") for i in range(100_000))
    unsigned = transfer(access_list=((RECIPIENT, keys),))
    tx = sign_transaction(attrs.evolve(unsigned, gas=intrinsic_gas(unsigned)), KEY)
    raw = encode_transaction(tx)
    start = time.perf_counter()
    decoded = decode_transaction(raw, chain_id=1)
    assert time.perf_counter() - start < 3.0
    assert decoded == tx


BLOB_HASH = b"\x01" + bytes(range(31))


def blob_transfer(**changes: Any) -> UnsignedTransaction:
    return attrs.evolve(
        transfer(type=3, max_fee_per_blob_gas=10, blob_versioned_hashes=(BLOB_HASH,)), **changes
    )


def test_a_blob_transaction_round_trips_and_signs_like_eth_account() -> None:
    unsigned = blob_transfer(blob_versioned_hashes=(BLOB_HASH, b"\x01" + bytes(31)))
    tx = sign_transaction(unsigned, KEY)
    raw = encode_transaction(tx)
    assert raw[0] == 3
    decoded = decode_transaction(raw, chain_id=1)
    assert decoded == tx
    assert decoded.sender == tx.sender
    assert decoded.blob_gas == 2 * 2**17
    # eth-account signs the same fields to the same bytes (the minimal form, without blobs).
    fields = {
        "type": 3,
        "chainId": 1,
        "nonce": 7,
        "maxPriorityFeePerGas": 2_000_000_000,
        "maxFeePerGas": 30_000_000_000,
        "gas": 21000,
        "to": to_checksum_address(RECIPIENT),
        "value": 10**18,
        "data": b"",
        "accessList": [],
        "maxFeePerBlobGas": 10,
        "blobVersionedHashes": list(unsigned.blob_versioned_hashes),
    }
    signed = Account.sign_transaction(fields, KEY)
    assert keccak256(raw) == bytes(signed.hash)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"to": None}, "cannot create a contract"),
        ({"max_fee_per_blob_gas": None}, "needs max_fee_per_blob_gas"),
        ({"blob_versioned_hashes": (bytes(31),)}, "must be 32 bytes, got 31"),
    ],
)
def test_blob_fields_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TransactionError, match=message):
        blob_transfer(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"blob_versioned_hashes": ()}, "at least one blob"),
        ({"blob_versioned_hashes": (b"\x02" + bytes(31),)}, "has version 2, not 1"),
        ({"blob_versioned_hashes": (BLOB_HASH,) * 7}, "above the block limit"),
    ],
)
def test_blob_rules_are_validated(changes: dict[str, Any], message: str) -> None:
    tx = sign_transaction(blob_transfer(**changes), KEY)
    with pytest.raises(TransactionError, match=message):
        decode_transaction(encode_transaction(tx))


def test_other_types_have_no_blob_fields() -> None:
    with pytest.raises(TransactionError, match="a type 2 transaction has no blob fields"):
        transfer(max_fee_per_blob_gas=1)


@pytest.mark.parametrize(
    ("excess", "fee"),
    # EIP-4844's fake exponential: 1 wei at no excess, e times more every 3,338,477 gas.
    [(0, 1), (3_338_477, 2), (10 * 3_338_477, 22_026), (2**17 * 3, 1)],
)
def test_blob_base_fee(excess: int, fee: int) -> None:
    from supervm.chain.transactions import blob_base_fee

    assert blob_base_fee(excess) == fee


@pytest.mark.parametrize("tx_type", [4, 5, 0x7F])
def test_unsupported_types_are_rejected(tx_type: int) -> None:
    tx = sign_transaction(transfer(), KEY)
    raw = bytes((tx_type,)) + encode_transaction(tx)[1:]
    with pytest.raises(TransactionError, match=f"transaction type {tx_type} not supported"):
        decode_transaction(raw)
    with pytest.raises(TransactionError, match=f"transaction type {tx_type} not supported"):
        transfer(type=tx_type)


def test_a_legacy_transaction_in_a_typed_envelope_is_rejected() -> None:
    legacy = sign_transaction(
        UnsignedTransaction(type=0, chain_id=1, nonce=0, gas_price=1, gas=21000, to=RECIPIENT),
        KEY,
    )
    with pytest.raises(TransactionError, match="transaction type 0 not supported"):
        decode_transaction(b"\x00" + encode_transaction(legacy))


def test_empty_and_string_inputs_are_rejected() -> None:
    with pytest.raises(TransactionError, match="empty"):
        decode_transaction(b"")
    with pytest.raises(TransactionError, match="neither a transaction type"):
        decode_transaction(rlp.encode(b"not a list"))
    with pytest.raises(TransactionError, match="must be an RLP list"):
        decode_transaction(b"\x02" + rlp.encode(b"not a list"))


# --- signatures and chain ids -------------------------------------------------------------------


def test_high_s_is_rejected() -> None:
    tx = sign_transaction(transfer(), KEY)
    with pytest.raises(TransactionError, match=r"s above secp256k1n/2"):
        attrs.evolve(tx, s=SECP256K1_N - tx.s, y_parity=1 - tx.y_parity)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"r": 0}, "r must be in"),
        ({"r": SECP256K1_N}, "r must be in"),
        ({"s": 0}, "s must not be 0"),
        ({"y_parity": 2}, "y_parity must be 0 or 1"),
    ],
)
def test_signature_ranges(changes: dict[str, Any], message: str) -> None:
    tx = sign_transaction(transfer(), KEY)
    with pytest.raises(TransactionError, match=message):
        attrs.evolve(tx, **changes)


def test_an_unrecoverable_signature_fails_on_sender() -> None:
    tx = sign_transaction(transfer(), KEY)
    # r = 5 is in range but may not be the x of a curve point; if it is, it recovers some
    # other key.
    for y_parity in (0, 1):
        bad = attrs.evolve(tx, r=5, y_parity=y_parity)
        try:
            sender = bad.sender
        except TransactionError as exc:
            assert "cannot be recovered" in str(exc)
        else:
            assert sender != tx.sender


def test_chain_id_checks() -> None:
    tx = sign_transaction(transfer(chain_id=5), KEY)
    raw = encode_transaction(tx)
    assert decode_transaction(raw, chain_id=5) == tx
    assert decode_transaction(raw) == tx  # no chain configured: any chain id
    with pytest.raises(TransactionError, match="invalid chain id"):
        decode_transaction(raw, chain_id=1)
    # Pre-EIP-155 transactions carry no chain id and are valid on every chain.
    legacy = sign_transaction(
        UnsignedTransaction(type=0, chain_id=None, nonce=0, gas_price=1, gas=21000, to=RECIPIENT),
        KEY,
    )
    assert legacy.v in (27, 28)
    assert decode_transaction(encode_transaction(legacy), chain_id=1) == legacy
    protected = sign_transaction(UnsignedTransaction(**{**_unsigned(legacy), "chain_id": 1}), KEY)
    assert protected.v in (37, 38)
    assert protected.sender == legacy.sender
    assert protected.hash != legacy.hash


def _unsigned(tx: Transaction) -> dict[str, Any]:
    return {f.name: getattr(tx, f.name) for f in attrs.fields(UnsignedTransaction)}


def test_sign_transaction_rejects_bad_keys() -> None:
    for key in (b"", bytes(32), SECP256K1_N.to_bytes(32, "big"), b"\x01" * 31):
        with pytest.raises(TransactionError, match="invalid private key"):
            sign_transaction(transfer(), key)


def test_signing_is_deterministic_and_the_sender_is_the_key() -> None:
    first = sign_transaction(transfer(), KEY)
    assert first == sign_transaction(transfer(), KEY)
    assert first.sender == address_of(KEY)
    assert signing_hash(first) == signing_hash(transfer())


# --- field rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"chain_id": None}, "needs one"),
        ({"nonce": 2**64 - 1}, "EIP-2681"),
        ({"nonce": -1}, "EIP-2681"),
        ({"gas": 2**64}, "gas limit"),
        ({"value": 2**256}, "value"),
        ({"max_fee_per_gas": 2**256}, "max fee per gas"),
        ({"gas_price": 1}, "has no gas_price"),
        ({"max_fee_per_gas": None}, "needs max_priority_fee_per_gas"),
        ({"to": bytes(19)}, "to must be 20 bytes"),
        ({"access_list": ((bytes(19), ()),)}, "access list address"),
        ({"access_list": ((RECIPIENT, (bytes(31),)),)}, "storage key"),
    ],
)
def test_field_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TransactionError, match=message):
        transfer(**changes)


def test_legacy_field_rules() -> None:
    base: dict[str, Any] = {"type": 0, "chain_id": 1, "nonce": 0, "gas": 21000, "to": RECIPIENT}
    with pytest.raises(TransactionError, match="needs a gas_price"):
        UnsignedTransaction(**base)
    with pytest.raises(TransactionError, match="no EIP-1559 fee fields"):
        UnsignedTransaction(**base, gas_price=1, max_fee_per_gas=1)
    with pytest.raises(TransactionError, match="no access list"):
        UnsignedTransaction(**base, gas_price=1, access_list=((RECIPIENT, ()),))
    with pytest.raises(TransactionError, match="chain id"):
        UnsignedTransaction(**{**base, "chain_id": 2**255}, gas_price=1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_priority_fee_per_gas": 31_000_000_000}, "above max fee per gas"),
        ({"gas": 20999}, "intrinsic gas too low"),
        ({"gas": 2**63, "max_fee_per_gas": 2**200}, "overflows 256 bits"),
        ({"to": None, "data": bytes(49153), "gas": 10**7}, "EIP-3860"),
    ],
)
def test_stateless_rules(changes: dict[str, Any], message: str) -> None:
    tx = sign_transaction(transfer(**changes), KEY)
    with pytest.raises(TransactionError, match=message):
        validate_transaction(tx)
    with pytest.raises(TransactionError, match=message):
        decode_transaction(encode_transaction(tx))


def test_initcode_at_the_limit_is_valid() -> None:
    unsigned = transfer(to=None, data=bytes(49152), gas=10**7)
    decode_transaction(encode_transaction(sign_transaction(unsigned, KEY)))


# --- gas and fees -------------------------------------------------------------------------------


@given(unsigned=unsigned_transactions())
@settings(max_examples=200, deadline=None)
def test_intrinsic_gas_matches_the_reference(unsigned: UnsignedTransaction) -> None:
    assert intrinsic_gas(unsigned) == reference_intrinsic_gas(unsigned)


def test_intrinsic_gas_examples() -> None:
    assert intrinsic_gas(transfer()) == 21000
    assert intrinsic_gas(transfer(data=b"\x00\x01")) == 21000 + 4 + 16
    # A create with 33 bytes of initcode: two words.
    assert intrinsic_gas(transfer(to=None, data=b"\x01" * 33)) == 21000 + 32000 + 33 * 16 + 4
    two_keys = ((RECIPIENT, (bytes(32), bytes(32))),)
    assert intrinsic_gas(transfer(access_list=two_keys)) == 21000 + 2400 + 2 * 1900


def test_effective_gas_price_and_tip() -> None:
    dynamic = transfer(max_priority_fee_per_gas=2, max_fee_per_gas=10)
    assert effective_gas_price(dynamic, base_fee=5) == 7
    assert effective_tip(dynamic, base_fee=5) == 2
    assert effective_gas_price(dynamic, base_fee=9) == 10  # capped by the max fee
    assert effective_tip(dynamic, base_fee=9) == 1
    with pytest.raises(TransactionError, match="below the block's base fee"):
        effective_gas_price(dynamic, base_fee=11)
    legacy = UnsignedTransaction(type=0, chain_id=1, nonce=0, gas_price=8, gas=21000, to=RECIPIENT)
    assert effective_gas_price(legacy, base_fee=5) == 8
    assert effective_tip(legacy, base_fee=5) == 3
    with pytest.raises(TransactionError, match="below the block's base fee"):
        effective_tip(legacy, base_fee=9)
