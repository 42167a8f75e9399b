"""Receipts and the logs bloom: round trips, strict decoding, eth-bloom equality, roots."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import rlp
from eth_bloom import BloomFilter
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.chain import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    EMPTY_BLOOM,
    EMPTY_TRIE_ROOT,
    LEGACY_TX_TYPE,
    BlockError,
    Receipt,
    ReceiptInfo,
    bloom_contains,
    decode_receipt,
    encode_receipt,
    logs_bloom,
    merge_blooms,
    receipts_root,
)
from supervm.crypto import keccak256
from supervm.model import Log
from trie import HexaryTrie

TOKEN = bytes.fromhex("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")

addresses = st.binary(min_size=20, max_size=20)
topics = st.binary(min_size=32, max_size=32)
logs = st.builds(
    Log,
    address=addresses,
    topics=st.lists(topics, max_size=4).map(tuple),
    data=st.binary(max_size=100),
)
receipts = st.builds(
    Receipt,
    tx_type=st.sampled_from([LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE]),
    status=st.sampled_from([0, 1]),
    cumulative_gas_used=st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1)),
    logs=st.lists(logs, max_size=4).map(tuple),
)


def reference_encoding(receipt: Receipt) -> bytes:
    body = rlp.encode(
        [
            receipt.status,
            receipt.cumulative_gas_used,
            receipt.logs_bloom,
            [[log.address, list(log.topics), log.data] for log in receipt.logs],
        ]
    )
    return body if receipt.tx_type == LEGACY_TX_TYPE else bytes((receipt.tx_type,)) + body


def reference_bloom(items: list[bytes]) -> bytes:
    return int(BloomFilter.from_iterable(items)).to_bytes(256, "big")


def items_of(some_logs: tuple[Log, ...] | list[Log]) -> list[bytes]:
    return [item for log in some_logs for item in (log.address, *log.topics)]


# --- encoding -----------------------------------------------------------------------------------


@given(receipts)
@settings(max_examples=200, deadline=None)
def test_receipt_round_trips_and_matches_the_rlp_package(receipt: Receipt) -> None:
    raw = encode_receipt(receipt)
    assert raw == reference_encoding(receipt)
    decoded = decode_receipt(raw)
    assert decoded == receipt
    assert encode_receipt(decoded) == raw
    assert decoded.succeeded == (receipt.status == 1)


def test_status_encodings() -> None:
    # Failure is the empty string, success the byte 1: Ethereum's since Byzantium (EIP-658).
    failed = encode_receipt(Receipt(status=0, cumulative_gas_used=21_000))
    assert rlp.decode(failed)[0] == b""
    succeeded = encode_receipt(
        Receipt(tx_type=DYNAMIC_FEE_TX_TYPE, status=1, cumulative_gas_used=1)
    )
    assert succeeded[0] == DYNAMIC_FEE_TX_TYPE
    assert rlp.decode(succeeded[1:])[0] == b"\x01"


def _raw(fields: list[Any], tx_type: int | None = None) -> bytes:
    body = rlp.encode(fields)
    return body if tx_type is None else bytes((tx_type,)) + body


LOG = [TOKEN, [TRANSFER_TOPIC], b"data"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty input"),
        (_raw([1, 21000, EMPTY_BLOOM, []], 4), "transaction type 4 not supported"),
        (_raw([1, 21000, EMPTY_BLOOM, []], 0), "a legacy receipt is an RLP list without"),
        (b"\x90" + bytes(16), "neither a transaction type"),
        (_raw([1, 21000, EMPTY_BLOOM, []]) + b"\x00", r"trailing bytes after the receipt \(1\)"),
        (_raw([1, 21000, EMPTY_BLOOM]), "it has 4 fields"),
        (_raw([2, 21000, EMPTY_BLOOM, []]), "status must be empty .* got 0x02"),
        (_raw([bytes(32), 21000, EMPTY_BLOOM, []]), "post-state root .* not supported"),
        (_raw([[], 21000, EMPTY_BLOOM, []]), "status must be a byte string"),
        (_raw([1, b"\x00\x01", EMPTY_BLOOM, []]), "cumulative gas used has leading zero"),
        (_raw([1, 21000, bytes(255), []]), "logs bloom must be 256 bytes, got 255"),
        (_raw([1, 21000, EMPTY_BLOOM, b""]), "the logs must be a list"),
        (_raw([1, 21000, EMPTY_BLOOM, [b"log"]]), "log 0 must be a list"),
        (_raw([1, 21000, EMPTY_BLOOM, [LOG, LOG[:2]]]), "log 1 has 3 fields"),
        (_raw([1, 21000, EMPTY_BLOOM, [[TOKEN[1:], [], b""]]]), "address of log 0 must be 20"),
        (_raw([1, 21000, EMPTY_BLOOM, [[TOKEN, [bytes(31)], b""]]]), "topic of log 0 must be 32"),
        (_raw([1, 21000, EMPTY_BLOOM, [[TOKEN, b"", b""]]]), "topics of log 0 must be a list"),
        (_raw([1, 21000, EMPTY_BLOOM, [[TOKEN, [], []]]]), "data of log 0 must be a byte string"),
        (_raw([1, 21000, EMPTY_BLOOM, []])[:-1], "runs past the end"),
    ],
)
def test_decode_receipt_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(BlockError, match=message):
        decode_receipt(raw)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": 2}, "status must be 0 or 1"),
        ({"tx_type": 4}, "transaction type 4 not supported"),
        ({"cumulative_gas_used": 2**64}, r"cumulative gas used must be in \[0, 2\*\*64\)"),
        ({"logs_bloom": bytes(10)}, "logs bloom must be 256 bytes, got 10"),
    ],
)
def test_receipt_construction_checks_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BlockError, match=message):
        Receipt(**{"status": 1, "cumulative_gas_used": 0, **changes})


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_arbitrary_bytes_never_raise_another_error(raw: bytes) -> None:
    with contextlib.suppress(BlockError):
        decode_receipt(raw)


@given(receipts, st.data())
@settings(max_examples=100, deadline=None)
def test_corrupted_receipts_never_raise_another_error(
    receipt: Receipt, data: st.DataObject
) -> None:
    raw = bytearray(encode_receipt(receipt))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_receipt(bytes(raw))
    except BlockError:
        return
    assert encode_receipt(decoded) == bytes(raw)


# --- bloom --------------------------------------------------------------------------------------


@given(st.lists(logs, max_size=8))
@settings(max_examples=200, deadline=None)
def test_bloom_matches_eth_bloom(some_logs: list[Log]) -> None:
    bloom = logs_bloom(some_logs)
    assert bloom == reference_bloom(items_of(some_logs))
    for item in items_of(some_logs):
        assert bloom_contains(bloom, item)
        assert item in BloomFilter(int.from_bytes(bloom, "big"))
    assert Receipt(status=1, cumulative_gas_used=0, logs=tuple(some_logs)).logs_bloom == bloom


def test_bloom_known_values() -> None:
    assert logs_bloom([]) == EMPTY_BLOOM
    log = Log(TOKEN, (TRANSFER_TOPIC,), b"")
    bloom = logs_bloom([log])
    assert bin(int.from_bytes(bloom, "big")).count("1") <= 6
    assert bloom_contains(bloom, TOKEN) and bloom_contains(bloom, TRANSFER_TOPIC)
    assert not bloom_contains(EMPTY_BLOOM, TOKEN)
    assert not bloom_contains(bloom, bytes(20))  # its three bits are not all among the six
    with pytest.raises(BlockError, match="a logs bloom is 256 bytes"):
        bloom_contains(bloom[:-1], TOKEN)
    # The data is not in the bloom.
    assert logs_bloom([Log(TOKEN, (TRANSFER_TOPIC,), b"anything")]) == bloom


@given(st.lists(st.lists(logs, max_size=3), max_size=5))
@settings(max_examples=100, deadline=None)
def test_merged_blooms_are_the_bloom_of_all_logs(per_receipt: list[list[Log]]) -> None:
    merged = merge_blooms(logs_bloom(group) for group in per_receipt)
    assert merged == logs_bloom([log for group in per_receipt for log in group])


# --- roots --------------------------------------------------------------------------------------


@given(st.lists(receipts, max_size=6))
@settings(max_examples=60, deadline=None)
def test_receipts_root_matches_hexary_trie(some: list[Receipt]) -> None:
    reference = HexaryTrie({})
    for index, receipt in enumerate(some):
        reference.set(rlp.encode(index), encode_receipt(receipt))
    assert receipts_root(some) == reference.root_hash
    if not some:
        assert receipts_root(some) == EMPTY_TRIE_ROOT


def test_receipt_info_carries_the_rpc_fields() -> None:
    receipt = Receipt(status=1, cumulative_gas_used=42_000, logs=(Log(TOKEN, (), b""),))
    info = ReceiptInfo(
        receipt=receipt,
        transaction_hash=bytes(32),
        transaction_index=1,
        block_hash=b"\x01" * 32,
        block_number=7,
        sender=TOKEN,
        to=None,
        contract_address=b"\x02" * 20,
        gas_used=21_000,
        effective_gas_price=10**9,
        first_log_index=3,
    )
    assert info.receipt.logs_bloom == logs_bloom(receipt.logs)
