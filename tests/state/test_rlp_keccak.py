"""The trie's two primitives against the reference packages: the hand-written RLP encoder
against ``rlp.encode``, the fast keccak against pycryptodome's public API and eth_hash."""

from __future__ import annotations

import eth_hash.auto
import rlp
from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.state import EMPTY_CODE_HASH, EMPTY_ROOT, encode_account, keccak256, rlp_encode
from supervm.state.trie import _new_keccak

# Lengths around the RLP boundaries: single bytes, 55/56-byte strings and payloads.
BYTES = st.one_of(
    st.binary(max_size=2),
    st.binary(min_size=54, max_size=58),
    st.binary(max_size=300),
)
ITEMS = st.recursive(BYTES, lambda inner: st.lists(inner, max_size=6), max_leaves=30)


@given(ITEMS)
@settings(max_examples=500)
def test_rlp_encode_matches_the_rlp_package(item: object) -> None:
    assert rlp_encode(item) == rlp.encode(item)  # type: ignore[arg-type]


@given(st.binary(min_size=1000, max_size=70_000))
@settings(max_examples=5)
def test_rlp_encode_long_strings_and_lists(data: bytes) -> None:
    assert rlp_encode(data) == rlp.encode(data)
    assert rlp_encode([data, [data[:100]]]) == rlp.encode([data, [data[:100]]])


def test_known_hashes() -> None:
    assert keccak256(b"") == EMPTY_CODE_HASH
    assert EMPTY_CODE_HASH.hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(rlp.encode(b"")) == EMPTY_ROOT


# Lengths around the keccak-256 rate (136 bytes), where padding spills into another block.
@given(st.one_of(st.binary(max_size=300), st.binary(min_size=134, max_size=138)))
@settings(max_examples=300)
def test_fast_keccak_matches_the_public_apis(data: bytes) -> None:
    want = keccak.new(data=data, digest_bits=256).digest()
    fast = _new_keccak()
    assert fast(data) == want
    assert fast(data) == want  # the reused state is reset between messages
    assert keccak256(data) == want == eth_hash.auto.keccak(data)


@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**256 - 1),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_account_encoding_matches_the_rlp_package(
    nonce: int, balance: int, storage_root: bytes, code_hash: bytes
) -> None:
    want = rlp.encode([nonce, balance, storage_root, code_hash])
    assert encode_account(nonce, balance, storage_root, code_hash) == want
