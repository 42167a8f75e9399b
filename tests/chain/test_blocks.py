"""Blocks and headers: round trips, hashes, strict decoding, roots and the lazy-sender path."""

from __future__ import annotations

import contextlib
import pickle
from typing import Any

import attrs
import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.chain import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    EMPTY_BLOOM,
    EMPTY_OMMERS_HASH,
    EMPTY_TRIE_ROOT,
    LEGACY_TX_TYPE,
    Block,
    BlockError,
    BlockHeader,
    Transaction,
    TransactionError,
    UnsignedTransaction,
    Withdrawal,
    check_body,
    decode_block,
    decode_header,
    decode_withdrawal,
    encode_block,
    encode_header,
    encode_transaction,
    encode_withdrawal,
    intrinsic_gas,
    ommers_hash,
    ordered_trie_root,
    sign_transaction,
    transactions_root,
    validate_transaction,
    withdrawals_root,
)
from supervm.crypto import keccak256
from trie import HexaryTrie

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
OTHER_KEY = bytes.fromhex("46" * 32)
RECIPIENT = bytes.fromhex("3535353535353535353535353535353535353535")

OPTIONAL_FIELDS = (
    "base_fee_per_gas",
    "withdrawals_root",
    "blob_gas_used",
    "excess_blob_gas",
    "parent_beacon_block_root",
)

# --- strategies ---------------------------------------------------------------------------------

hashes = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20)
# Mostly small values, where the encodings' edge cases (0, single bytes below 0x80) live.
u64 = st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1))
u256 = st.one_of(st.integers(0, 300), st.integers(0, 2**256 - 1))


@st.composite
def headers(draw: st.DrawFn, optional: int | None = None) -> BlockHeader:
    """Headers with a random prefix of the optional fields (all five: Cancun)."""
    if optional is None:
        optional = draw(st.integers(0, len(OPTIONAL_FIELDS)))
    values = {
        "base_fee_per_gas": draw(u256),
        "withdrawals_root": draw(hashes),
        "blob_gas_used": draw(u64),
        "excess_blob_gas": draw(u64),
        "parent_beacon_block_root": draw(hashes),
    }
    return BlockHeader(
        parent_hash=draw(hashes),
        ommers_hash=draw(hashes),
        coinbase=draw(addresses),
        state_root=draw(hashes),
        transactions_root=draw(hashes),
        receipts_root=draw(hashes),
        logs_bloom=draw(st.binary(min_size=256, max_size=256)),
        difficulty=draw(u256),
        number=draw(u64),
        gas_limit=draw(u64),
        gas_used=draw(u64),
        timestamp=draw(u64),
        # Clique's 97 bytes and more: the size is a consensus rule, not a format rule.
        extra_data=draw(st.binary(max_size=120)),
        mix_hash=draw(hashes),
        nonce=draw(st.binary(min_size=8, max_size=8)),
        **{name: values[name] for name in OPTIONAL_FIELDS[:optional]},
    )


withdrawals = st.builds(Withdrawal, index=u64, validator_index=u64, address=addresses, amount=u64)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    tx_type = draw(st.sampled_from([LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE]))
    fee = draw(st.integers(0, 10**12))
    fees: dict[str, Any] = (
        {"max_fee_per_gas": fee, "max_priority_fee_per_gas": draw(st.integers(0, fee))}
        if tx_type == DYNAMIC_FEE_TX_TYPE
        else {"gas_price": fee}
    )
    unsigned = UnsignedTransaction(
        type=tx_type,
        chain_id=draw(st.sampled_from([None, 1])) if tx_type == LEGACY_TX_TYPE else 1,
        nonce=draw(u64.filter(lambda n: n < 2**64 - 1)),
        gas=0,
        to=draw(st.none() | addresses),
        value=draw(u256),
        data=draw(st.binary(max_size=80)),
        access_list=()
        if tx_type == LEGACY_TX_TYPE
        else draw(
            st.lists(st.tuples(addresses, st.lists(hashes, max_size=2).map(tuple)), max_size=2).map(
                tuple
            )
        ),
        **fees,
    )
    unsigned = attrs.evolve(unsigned, gas=intrinsic_gas(unsigned) + draw(st.integers(0, 10**6)))
    return sign_transaction(unsigned, draw(st.sampled_from([KEY, OTHER_KEY])))


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    header = draw(headers())
    return Block(
        header,
        tuple(draw(st.lists(transactions(), max_size=4))),
        tuple(draw(st.lists(headers(), max_size=2))),
        None if header.withdrawals_root is None else tuple(draw(st.lists(withdrawals, max_size=3))),
    )


def transfer(nonce: int = 0, tx_type: int = DYNAMIC_FEE_TX_TYPE, **changes: Any) -> Transaction:
    fees: dict[str, Any] = (
        {"max_priority_fee_per_gas": 10**9, "max_fee_per_gas": 3 * 10**10}
        if tx_type == DYNAMIC_FEE_TX_TYPE
        else {"gas_price": 10**10}
    )
    unsigned = UnsignedTransaction(
        type=tx_type, chain_id=1, nonce=nonce, gas=21_000, to=RECIPIENT, value=10**18, **fees
    )
    return sign_transaction(attrs.evolve(unsigned, **changes), KEY)


def simple_header(**changes: Any) -> BlockHeader:
    base = BlockHeader(
        parent_hash=bytes(32),
        coinbase=RECIPIENT,
        state_root=b"\x11" * 32,
        number=1,
        gas_limit=30_000_000,
        timestamp=1_700_000_000,
        base_fee_per_gas=7,
        withdrawals_root=EMPTY_TRIE_ROOT,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=bytes(32),
    )
    return attrs.evolve(base, **changes)


def simple_block(txs: tuple[Transaction, ...] = (), **changes: Any) -> Block:
    header = simple_header(transactions_root=transactions_root(txs), **changes)
    return Block(header, txs, (), () if header.withdrawals_root is not None else None)


def header_values(header: BlockHeader) -> list[Any]:
    """The header's fields as the rlp package encodes them (ints and bytes)."""
    values = [getattr(header, field.name) for field in attrs.fields(BlockHeader)]
    return [value for value in values if value is not None]


def rlp_list(items: list[bytes]) -> bytes:
    payload = b"".join(items)
    return bytes(rlp.codec.length_prefix(len(payload), 0xC0)) + payload


# --- headers ------------------------------------------------------------------------------------


@given(headers())
@settings(max_examples=200, deadline=None)
def test_header_round_trips_and_matches_the_rlp_package(header: BlockHeader) -> None:
    raw = encode_header(header)
    assert raw == rlp.encode(header_values(header))
    decoded = decode_header(raw)
    assert decoded == header
    assert encode_header(decoded) == raw
    assert decoded.hash == header.hash == keccak256(raw)
    assert header.field_count == len(rlp.decode(raw))


def test_mainnet_genesis_hash() -> None:
    genesis = BlockHeader(
        parent_hash=bytes(32),
        coinbase=bytes(20),
        state_root=bytes.fromhex(
            "d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
        ),
        difficulty=0x400000000,
        number=0,
        gas_limit=5000,
        timestamp=0,
        extra_data=bytes.fromhex(
            "11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa"
        ),
        nonce=bytes.fromhex("0000000000000042"),
    )
    assert genesis.hash.hex() == "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
    assert genesis.field_count == 15
    assert decode_header(encode_header(genesis)).hash == genesis.hash


def test_constants() -> None:
    assert keccak256(rlp.encode([])) == EMPTY_OMMERS_HASH
    assert EMPTY_TRIE_ROOT == keccak256(rlp.encode(b"")) == HexaryTrie({}).root_hash
    assert bytes(256) == EMPTY_BLOOM
    assert ommers_hash([]) == EMPTY_OMMERS_HASH
    assert transactions_root([]) == withdrawals_root([]) == EMPTY_TRIE_ROOT


def test_hash_is_cached_and_a_changed_header_has_another() -> None:
    header = simple_header()
    assert header.hash is header.hash
    assert "hash" in header.__dict__
    changed = attrs.evolve(header, timestamp=header.timestamp + 1)
    assert changed.hash != header.hash
    assert pickle.loads(pickle.dumps(header)) == header
    assert header.prev_randao == header.mix_hash


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"parent_hash": bytes(31)}, "parent hash must be 32 bytes, got 31"),
        ({"coinbase": bytes(32)}, "coinbase must be 20 bytes, got 32"),
        ({"logs_bloom": bytes(255)}, "logs bloom must be 256 bytes, got 255"),
        ({"nonce": bytes(9)}, "nonce must be 8 bytes, got 9"),
        ({"mix_hash": "00" * 32}, "mix hash must be bytes"),
        ({"number": -1}, r"number must be an integer in \[0, 2\*\*64\)"),
        ({"gas_limit": 2**64}, r"gas limit must be an integer in \[0, 2\*\*64\)"),
        ({"difficulty": 2**256}, r"difficulty must be an integer in \[0, 2\*\*256\)"),
        ({"base_fee_per_gas": None}, "withdrawals root is present but the earlier optional"),
        (
            {"blob_gas_used": None},
            "excess blob gas is present but the earlier optional field blob gas used is not",
        ),
    ],
)
def test_header_construction_checks_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BlockError, match=message):
        simple_header(**changes)


def test_extra_data_size_is_not_a_format_rule() -> None:
    # Clique keeps 32 bytes of vanity and a 65-byte seal there; Ethereum allows 32.
    for size in (0, 32, 97, 1000):
        header = simple_header(extra_data=bytes(range(256)) * 4)
        header = attrs.evolve(header, extra_data=header.extra_data[:size])
        assert decode_header(encode_header(header)) == header


def _with_field(header: BlockHeader, index: int, item: Any) -> bytes:
    values: list[Any] = header_values(header)
    values[index] = item
    return rlp.encode(values)


CANCUN_HEADER = simple_header()
GOOD_HEADER_FIELDS = rlp.decode(encode_header(CANCUN_HEADER))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty the block header"),
        (rlp.encode(b"a header"), "the block header must be a list"),
        (encode_header(CANCUN_HEADER) + b"\x00", r"trailing bytes after the block header \(1\)"),
        (rlp.encode(GOOD_HEADER_FIELDS[:14]), "has 15 to 20 fields .* got 14"),
        (rlp.encode([*GOOD_HEADER_FIELDS, b"\x01" * 32]), "has 15 to 20 fields .* got 21"),
        (_with_field(CANCUN_HEADER, 0, bytes(31)), "parent hash must be 32 bytes, got 31"),
        (_with_field(CANCUN_HEADER, 2, bytes(21)), "coinbase must be 20 bytes, got 21"),
        (_with_field(CANCUN_HEADER, 6, bytes(64)), "logs bloom must be 256 bytes, got 64"),
        (_with_field(CANCUN_HEADER, 14, bytes(7)), "nonce must be 8 bytes, got 7"),
        (_with_field(CANCUN_HEADER, 16, bytes(33)), "withdrawals root must be 32 bytes"),
        (_with_field(CANCUN_HEADER, 8, b"\x00\x01"), "number has leading zero bytes"),
        (_with_field(CANCUN_HEADER, 9, b"\x01" + bytes(8)), r"gas limit must be below 2\*\*64"),
        (_with_field(CANCUN_HEADER, 7, b"\x01" * 33), "difficulty exceeds 256 bits"),
        (_with_field(CANCUN_HEADER, 11, [b"\x01"]), "timestamp must be an integer, not a list"),
        (_with_field(CANCUN_HEADER, 3, [bytes(32)]), "state root must be a byte string"),
    ],
)
def test_decode_header_rejects(raw: bytes, message: str | None) -> None:
    with pytest.raises(BlockError, match=message or "invalid RLP"):
        decode_header(raw)


def _with_raw_item(header: BlockHeader, index: int, raw_item: bytes) -> bytes:
    items = [rlp.encode(value) for value in header_values(header)]
    items[index] = raw_item
    return rlp_list(items)


@pytest.mark.parametrize(
    ("raw_item", "message"),
    [
        (b"\x81\x05", "extra data is a single byte below 0x80 with a header"),
        (b"\xb8\x01x", "extra data uses the long form for a short length"),
        (b"\xb9\x00\x01x", "the length of extra data has leading zero bytes"),
        (b"\x82\x00\x01", None),
    ],
)
def test_decode_header_rejects_non_canonical_rlp(raw_item: bytes, message: str | None) -> None:
    raw = _with_raw_item(CANCUN_HEADER, 12, raw_item)
    if message is None:  # a canonical item, as a control
        assert decode_header(raw).extra_data == b"\x00\x01"
        return
    with pytest.raises(BlockError, match=message):
        decode_header(raw)
    # The same for an integer: a leading zero, even with a canonical header.
    with pytest.raises(BlockError, match="gas used has leading zero bytes"):
        decode_header(_with_raw_item(CANCUN_HEADER, 10, b"\x82\x00\x05"))


def test_decode_header_rejects_a_long_list_header_with_a_leading_zero() -> None:
    raw = encode_header(CANCUN_HEADER)
    assert raw[0] == 0xF9  # two length bytes
    with pytest.raises(BlockError, match="the length of the block header has leading zero bytes"):
        decode_header(b"\xfa\x00" + raw[1:])


# --- withdrawals --------------------------------------------------------------------------------


@given(withdrawals)
def test_withdrawal_round_trips(withdrawal: Withdrawal) -> None:
    raw = encode_withdrawal(withdrawal)
    assert raw == rlp.encode(
        [withdrawal.index, withdrawal.validator_index, withdrawal.address, withdrawal.amount]
    )
    assert decode_withdrawal(raw) == withdrawal


def test_withdrawal_checks() -> None:
    with pytest.raises(BlockError, match=r"amount must be in \[0, 2\*\*64\)"):
        Withdrawal(index=0, validator_index=0, address=RECIPIENT, amount=2**64)
    with pytest.raises(BlockError, match="address must be 20 bytes"):
        Withdrawal(index=0, validator_index=0, address=b"", amount=1)
    with pytest.raises(BlockError, match="has 4 fields"):
        decode_withdrawal(rlp.encode([1, 2, RECIPIENT]))
    with pytest.raises(BlockError, match="address must be 20 bytes, got 19"):
        decode_withdrawal(rlp.encode([1, 2, RECIPIENT[1:], 3]))
    with pytest.raises(BlockError, match="withdrawal amount has leading zero bytes"):
        decode_withdrawal(rlp.encode([1, 2, RECIPIENT, b"\x00\x03"]))


# --- blocks -------------------------------------------------------------------------------------


def reference_block_encoding(block: Block) -> bytes:
    """geth's block format written with the rlp package."""
    txs = [
        rlp.decode(encode_transaction(tx)) if tx.type == LEGACY_TX_TYPE else encode_transaction(tx)
        for tx in block.transactions
    ]
    parts: list[Any] = [
        header_values(block.header),
        txs,
        [header_values(ommer) for ommer in block.ommers],
    ]
    if block.withdrawals is not None:
        parts.append([[w.index, w.validator_index, w.address, w.amount] for w in block.withdrawals])
    return rlp.encode(parts)


@given(blocks())
@settings(max_examples=60, deadline=None)
def test_block_round_trips_and_matches_the_rlp_package(block: Block) -> None:
    raw = encode_block(block)
    assert raw == reference_block_encoding(block)
    decoded = decode_block(raw)
    assert decoded == block
    assert encode_block(decoded) == raw
    assert decoded.hash == block.header.hash
    for got, sent in zip(decoded.transactions, block.transactions, strict=True):
        assert (got.hash, got.sender) == (sent.hash, sent.sender)
    lazy = decode_block(raw, recover=False)
    assert lazy == block
    assert encode_block(lazy) == raw


def test_decode_without_recovery_defers_the_sender() -> None:
    txs = (transfer(0), transfer(1, LEGACY_TX_TYPE), transfer(2, ACCESS_LIST_TX_TYPE))
    raw = encode_block(simple_block(txs))
    lazy = decode_block(raw, recover=False)
    for tx, original in zip(lazy.transactions, txs, strict=True):
        # Parsed once: the hash and the signing digest come from the input, the sender later.
        assert {"hash", "_signing_digest"} <= tx.__dict__.keys()
        assert "sender" not in tx.__dict__
        assert tx.hash == original.hash
        # A worker process recovers it; pickling carries the digest there and the sender back.
        in_worker = pickle.loads(pickle.dumps(tx))
        validate_transaction(in_worker, chain_id=1)
        back = pickle.loads(pickle.dumps(in_worker))
        assert back.__dict__["sender"] == original.sender
        assert tx.sender == original.sender
    eager = decode_block(raw)
    assert all("sender" in tx.__dict__ for tx in eager.transactions)


def test_decode_without_recovery_skips_validation_which_the_caller_runs() -> None:
    tx = transfer(0, gas=21_000)
    cheap = transfer(1, gas=20_000)  # below the intrinsic gas
    raw = encode_block(simple_block((tx, cheap)))
    with pytest.raises(BlockError, match="transaction 1: intrinsic gas too low") as info:
        decode_block(raw)
    assert isinstance(info.value.__cause__, TransactionError)
    lazy = decode_block(raw, recover=False)
    with pytest.raises(TransactionError, match="intrinsic gas too low"):
        validate_transaction(lazy.transactions[1])


def test_decode_block_checks_the_chain_id_when_recovering() -> None:
    raw = encode_block(simple_block((transfer(0),)))
    assert decode_block(raw, chain_id=1).transactions[0].chain_id == 1
    with pytest.raises(BlockError, match="transaction 0: invalid chain id"):
        decode_block(raw, chain_id=5)
    decode_block(raw, chain_id=5, recover=False)  # the caller validates later


def _block_parts(block: Block) -> list[bytes]:
    """The block's top-level parts, each as its own encoding."""
    raw = encode_block(block)
    return [rlp.encode(part) for part in rlp.decode(raw)]


def test_typed_and_legacy_transactions_are_embedded_as_eip_2718_says() -> None:
    typed, legacy = transfer(0), transfer(1, LEGACY_TX_TYPE)
    block = simple_block((typed, legacy))
    tx_list = rlp.decode(encode_block(block))[1]
    assert tx_list[0] == encode_transaction(typed)  # a byte string: type || payload
    assert rlp.encode(tx_list[1]) == encode_transaction(legacy)  # the legacy list itself
    parts = _block_parts(block)

    # A legacy transaction wrapped in a byte string, as a typed one would be.
    wrapped = rlp_list([rlp.encode(encode_transaction(legacy))])
    with pytest.raises(BlockError, match=r"transaction 0: .*legacy one is embedded as a list"):
        decode_block(rlp_list([parts[0], wrapped, *parts[2:]]))
    # A typed transaction embedded without its byte-string wrapper (its bytes spliced in).
    spliced = rlp_list([encode_transaction(typed)])
    with pytest.raises(BlockError):
        decode_block(rlp_list([parts[0], spliced, *parts[2:]]))
    # An unsupported type (EIP-7702's set-code transactions).
    set_code = rlp_list([rlp.encode(b"\x04" + encode_transaction(typed)[1:])])
    with pytest.raises(BlockError, match="transaction 0: transaction type 4 not supported"):
        decode_block(rlp_list([parts[0], set_code, *parts[2:]]))
    # A type 3 payload with a type 2's fields: blob transactions have two more.
    blob = rlp_list([rlp.encode(b"\x03" + encode_transaction(typed)[1:])])
    with pytest.raises(BlockError, match="a type 3 transaction has 14 fields, got 12"):
        decode_block(rlp_list([parts[0], blob, *parts[2:]]))
    empty = rlp_list([rlp.encode(b"")])
    with pytest.raises(BlockError, match="transaction 0: a typed transaction"):
        decode_block(rlp_list([parts[0], empty, *parts[2:]]))


def test_withdrawals_are_present_exactly_with_the_root() -> None:
    shanghai = simple_block()
    parts = _block_parts(shanghai)
    with pytest.raises(BlockError, match="header has a withdrawals root but it has no withdrawals"):
        decode_block(rlp_list(parts[:3]))
    paris = simple_block(
        withdrawals_root=None,
        blob_gas_used=None,
        excess_blob_gas=None,
        parent_beacon_block_root=None,
    )
    paris_parts = _block_parts(paris)
    assert len(paris_parts) == 3
    with pytest.raises(BlockError, match="has a withdrawals list but its header has no"):
        decode_block(rlp_list([*paris_parts, rlp.encode([])]))
    with pytest.raises(BlockError, match="withdrawals must be given exactly when"):
        Block(paris.header, (), (), ())
    with pytest.raises(BlockError, match="withdrawals must be given exactly when"):
        Block(shanghai.header)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda p: rlp_list(p[:2]), "it has 3 parts .* got 2"),
        (lambda p: rlp_list([*p, rlp.encode([])]), "it has 3 parts .* got 5"),
        (lambda p: rlp_list(p) + b"\x80", r"trailing bytes after the block \(1\)"),
        (lambda p: rlp.encode(b"block"), "a block must be a list"),
        (lambda p: rlp_list([p[0], rlp.encode(b"txs"), *p[2:]]), "transaction list must be a"),
        (lambda p: rlp_list([*p[:2], rlp.encode([b"x"]), p[3]]), "ommer 0 must be a list"),
        (lambda p: rlp_list([*p[:2], rlp.encode([[b"x"]]), p[3]]), "ommer 0 has 15 to 20"),
        (lambda p: rlp_list([*p[:3], rlp.encode([b"w"])]), "a withdrawal must be a list"),
        (lambda p: rlp_list([rlp.encode(b"h"), *p[1:]]), "the block header must be a list"),
        (lambda p: rlp_list(p)[:-1], "runs past the end"),
        (lambda p: b"", "empty the block"),
    ],
)
def test_decode_block_rejects(mangle: Any, message: str) -> None:
    block = simple_block((transfer(0),))
    with pytest.raises(BlockError, match=message):
        decode_block(mangle(_block_parts(block)))


def test_a_bad_signature_names_the_transaction() -> None:
    good = transfer(0)
    forged = attrs.evolve(good, value=good.value + 1)  # the signature no longer recovers KEY
    raw = encode_block(simple_block((good, forged)))
    block = decode_block(raw)  # a different sender is still a valid signature
    assert block.transactions[1].sender != good.sender
    broken = rlp.decode(encode_transaction(good)[1:])
    broken[-2] = (2**256 - 2**32 - 977 - 1).to_bytes(32, "big")  # r: no point on the curve
    bad = b"\x02" + rlp.encode(broken)
    parts = _block_parts(simple_block())
    with pytest.raises(BlockError, match="transaction 0: invalid signature"):
        decode_block(rlp_list([parts[0], rlp_list([rlp.encode(bad)]), *parts[2:]]))


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_arbitrary_bytes_never_raise_another_error(raw: bytes) -> None:
    for decode in (decode_block, decode_header, decode_withdrawal):
        with contextlib.suppress(BlockError):
            decode(raw)


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_corrupted_blocks_never_raise_another_error(data: st.DataObject) -> None:
    raw = bytearray(encode_block(simple_block((transfer(0), transfer(1, LEGACY_TX_TYPE)))))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            block = decode_block(candidate)
        except BlockError:
            continue
        assert encode_block(block) == candidate


# --- roots and the body check -------------------------------------------------------------------


def hexary_root(values: list[bytes]) -> bytes:
    reference = HexaryTrie({})
    for index, value in enumerate(values):
        reference.set(rlp.encode(index), value)
    return bytes(reference.root_hash)


@pytest.mark.parametrize("count", [0, 1, 2, 16, 127, 128, 129, 300])
def test_ordered_trie_root_matches_hexary_trie(count: int) -> None:
    values = [keccak256(i.to_bytes(4, "big"))[: 1 + i % 40] for i in range(count)]
    assert ordered_trie_root(values) == hexary_root(values)


@given(st.lists(transactions(), max_size=6), st.lists(withdrawals, max_size=6))
@settings(max_examples=40, deadline=None)
def test_roots_match_hexary_trie(txs: list[Transaction], ws: list[Withdrawal]) -> None:
    assert transactions_root(txs) == hexary_root([encode_transaction(tx) for tx in txs])
    assert withdrawals_root(ws) == hexary_root([encode_withdrawal(w) for w in ws])


def test_check_body() -> None:
    txs = (transfer(0), transfer(1))
    ws = (Withdrawal(index=0, validator_index=5, address=RECIPIENT, amount=32 * 10**9),)
    ommer = simple_header(number=0)
    header = simple_header(
        transactions_root=transactions_root(txs),
        withdrawals_root=withdrawals_root(ws),
        ommers_hash=ommers_hash([ommer]),
    )
    block = Block(header, txs, (ommer,), ws)
    check_body(block)
    check_body(decode_block(encode_block(block)))
    with pytest.raises(BlockError, match="the transactions root is 0x"):
        check_body(attrs.evolve(block, transactions=txs[:1]))
    with pytest.raises(BlockError, match="the ommers hash is 0x"):
        check_body(attrs.evolve(block, ommers=()))
    with pytest.raises(BlockError, match="the withdrawals root is 0x"):
        check_body(attrs.evolve(block, withdrawals=()))
