"""The Merkle Patricia trie against the ``trie`` package's HexaryTrie, the reference
implementation of Ethereum's rules: random batches of puts and deletes must give exactly its
root after every batch, whether the trie stayed in memory or was re-opened from the nodes it
committed (and then updated while loading lazily). Also proofs, exactly-once hashing and lazy
loading."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import rlp
import supervm.state.trie as trie_mod
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.state import (
    EMPTY_ROOT,
    InvalidNodeError,
    InvalidProofError,
    MissingNodeError,
    SecureTrie,
    Trie,
    keccak256,
    verify_proof,
)
from trie import HexaryTrie

Batch = dict[bytes, bytes | None]

# Short keys over a few byte values share prefixes a lot and are prefixes of one another (so
# branches carry values); 32-byte keys that differ in a few places give long extensions.
SHORT_KEYS = st.lists(st.sampled_from([0x00, 0x01, 0x10, 0x11, 0xFF]), max_size=5).map(bytes)
LONG_KEYS = st.lists(st.sampled_from([0x00, 0x01, 0x10]), min_size=3, max_size=3).map(
    lambda b: bytes(13) + bytes(b[:1]) + bytes(9) + bytes(b[1:2]) + bytes(8) + bytes(b[2:])
)
RANDOM_KEYS = st.binary(min_size=32, max_size=32)
# Tiny values make nodes under 32 bytes, which are embedded in their parent; long ones are not.
VALUES = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(min_size=1, max_size=3),
    st.binary(min_size=28, max_size=60),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[bytes], list[Batch], list[bool]]:
    keys = draw(
        st.sampled_from([SHORT_KEYS, LONG_KEYS, RANDOM_KEYS, st.one_of(SHORT_KEYS, RANDOM_KEYS)])
    )
    pool = draw(st.lists(keys, min_size=1, max_size=40, unique=True))
    batches = draw(
        st.lists(
            st.dictionaries(st.sampled_from(pool), VALUES, max_size=25), min_size=1, max_size=8
        )
    )
    if draw(st.booleans()):
        batches.append(dict.fromkeys(pool))  # delete everything: back to the empty root
    reopen = draw(st.lists(st.booleans(), min_size=len(batches), max_size=len(batches)))
    return pool, batches, reopen


def apply_reference(ref: HexaryTrie, model: dict[bytes, bytes], batch: Batch) -> None:
    for k, v in batch.items():
        if v:
            ref.set(k, v)
            model[k] = v
        else:
            ref.delete(k)
            model.pop(k, None)


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_roots_match_hexary_trie_after_every_batch(
    scenario: tuple[list[bytes], list[Batch], list[bool]],
) -> None:
    pool, batches, reopen = scenario
    ref = HexaryTrie({})
    model: dict[bytes, bytes] = {}
    db: dict[bytes, bytes] = {}
    t = Trie()
    for batch, again in zip(batches, reopen, strict=True):
        apply_reference(ref, model, batch)
        t.update(batch)
        assert t.root_hash() == ref.root_hash
        db.update(t.commit())
        assert t.commit() == {}
        fresh = Trie(t.root_hash(), db.get)
        assert fresh.root_hash() == ref.root_hash
        for k in pool:
            assert fresh.get(k) == model.get(k)
            assert t.get(k) == model.get(k)
        if again:
            t = fresh  # the next batch updates a trie that loads nodes as it goes
    if not model:
        assert t.root_hash() == EMPTY_ROOT


@given(st.lists(st.dictionaries(st.binary(max_size=40), VALUES, max_size=30), max_size=5))
@settings(max_examples=100, deadline=None)
def test_secure_trie_hashes_its_keys(batches: list[Batch]) -> None:
    ref = HexaryTrie({})
    t = SecureTrie()
    for batch in batches:
        apply_reference(ref, {}, {keccak256(k): v for k, v in batch.items()})
        t.update(batch)
        assert t.root_hash() == ref.root_hash


@given(scenarios(), st.binary(min_size=1, max_size=40))
@settings(max_examples=150, deadline=None)
def test_proofs_verify_and_fail_for_a_wrong_value(
    scenario: tuple[list[bytes], list[Batch], list[bool]], wrong: bytes
) -> None:
    pool, batches, _ = scenario
    model: dict[bytes, bytes] = {}
    ref = HexaryTrie({})
    db: dict[bytes, bytes] = {}
    t = Trie()
    for batch in batches:
        apply_reference(ref, model, batch)
        t.update(batch)
        db.update(t.commit())
    root = t.root_hash()
    reopened = Trie(root, db.get)
    for k in pool:
        proof = t.proof(k)
        assert reopened.proof(k) == proof
        assert verify_proof(root, k, proof) == model.get(k)
        if len(k) == 32:  # HexaryTrie's own proof reader is only right for fixed-length keys
            decoded = [rlp.decode(n) for n in proof]
            assert HexaryTrie.get_from_proof(root, k, decoded) == model.get(k, b"")
        if wrong == model.get(k):
            continue
        # The same trie with the wrong value under k: its proof does not verify against root.
        forged = Trie(root, db.get)
        forged.update({k: wrong})
        if root == EMPTY_ROOT:
            # Under the empty root every key is absent, whatever nodes come with it.
            assert verify_proof(root, k, forged.proof(k)) is None
        else:
            with pytest.raises(InvalidProofError):
                verify_proof(root, k, forged.proof(k))
        assert verify_proof(forged.root_hash(), k, forged.proof(k)) == wrong


def test_a_proof_missing_a_node_or_corrupted_is_rejected() -> None:
    t = SecureTrie()
    t.update({i.to_bytes(4, "big"): b"v" * 40 for i in range(300)})
    root = t.root_hash()
    key = keccak256((7).to_bytes(4, "big"))
    proof = t.proof((7).to_bytes(4, "big"))
    assert len(proof) >= 3
    assert verify_proof(root, key, proof) == b"v" * 40
    with pytest.raises(InvalidProofError):
        verify_proof(root, key, proof[:-1])
    with pytest.raises(InvalidProofError):
        verify_proof(root, key, [proof[0][:-1], *proof[1:]])
    with pytest.raises(InvalidProofError):
        verify_proof(keccak256(b"another root"), key, proof)
    # A key that is absent is proven absent by the nodes on its path.
    absent = (1000).to_bytes(4, "big")
    assert verify_proof(root, keccak256(absent), t.proof(absent)) is None
    assert verify_proof(EMPTY_ROOT, key, Trie().proof(b"x")) is None


def counting_keccak(counter: list[int]) -> Callable[[], Callable[[bytes], bytes]]:
    real = trie_mod._new_keccak

    def make() -> Callable[[bytes], bytes]:
        fn = real()

        def counted(data: bytes) -> bytes:
            counter[0] += 1
            return fn(data)

        return counted

    return make


def test_each_dirty_node_is_hashed_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Trie()
    t.update({keccak256(i.to_bytes(4, "big")): b"v" * 40 for i in range(2000)})
    t.commit()
    key = keccak256((5).to_bytes(4, "big"))
    hashed = [0]
    monkeypatch.setattr(trie_mod, "_new_keccak", counting_keccak(hashed))
    t.update({key: b"w" * 40})
    root = t.root_hash()
    path = t.proof(key)  # root first, every node on the path is hash-referenced here
    assert hashed[0] == len(path)
    assert t.root_hash() == root
    assert hashed[0] == len(path)  # nothing is hashed again
    nodes = t.commit()
    assert sorted(nodes.values()) == sorted(path)
    assert t.commit() == {}

    # Many changes under one branch: the branch is still hashed once.
    hashed[0] = 0
    batch = {keccak256(i.to_bytes(4, "big")): b"x" * 40 for i in range(100, 400)}
    t.update(batch)
    t.root_hash()
    nodes = t.commit()
    assert hashed[0] == len(nodes)


def test_nodes_are_loaded_lazily_and_once() -> None:
    t = SecureTrie()
    t.update({i.to_bytes(4, "big"): b"v" * 40 for i in range(1000)})
    db = t.commit()
    loads: list[bytes] = []

    def get_node(h: bytes) -> bytes | None:
        loads.append(h)
        return db.get(h)

    lazy = SecureTrie(t.root_hash(), get_node)
    assert lazy.get((3).to_bytes(4, "big")) == b"v" * 40
    path = len(loads)
    assert 0 < path <= 6
    assert lazy.get((3).to_bytes(4, "big")) == b"v" * 40
    assert len(loads) == path
    lazy.update({(3).to_bytes(4, "big"): b"w" * 40})
    assert len(loads) == path  # the path was already there
    want = {i.to_bytes(4, "big"): b"v" * 40 for i in range(1000)}
    want[(3).to_bytes(4, "big")] = b"w" * 40
    assert lazy.root_hash() == _root_of(want)
    assert len(loads) < 20


def _root_of(items: dict[bytes, bytes]) -> bytes:
    t = SecureTrie()
    t.update(items)
    return t.root_hash()


def test_missing_and_corrupt_nodes_raise() -> None:
    t = Trie()
    t.update({bytes([i]) * 8: b"v" * 40 for i in range(50)})
    db = t.commit()
    with pytest.raises(MissingNodeError):
        Trie(t.root_hash(), dict[bytes, bytes]().get).get(b"\x01" * 8)
    with pytest.raises(MissingNodeError):
        Trie(t.root_hash()).update({b"\x01" * 8: None})
    corrupt = {h: b"\xc3\x80\x80\x80" for h in db}
    with pytest.raises(InvalidNodeError):
        Trie(t.root_hash(), corrupt.get).get(b"\x01" * 8)


def test_edge_cases() -> None:
    t = Trie()
    assert t.root_hash() == EMPTY_ROOT
    assert t.commit() == {}
    t.update({})
    t.update({b"a": None, b"b": b""})
    assert t.root_hash() == EMPTY_ROOT
    # A root under 32 bytes is still stored, and re-opens.
    t.update({b"": b"x"})
    assert t.get(b"") == b"x"
    ref = HexaryTrie({})
    ref.set(b"", b"x")
    assert t.root_hash() == ref.root_hash
    db = t.commit()
    assert db == {t.root_hash(): rlp.encode([b"\x20", b"x"])}
    assert Trie(t.root_hash(), db.get).get(b"") == b"x"
    with pytest.raises(ValueError):
        Trie(b"short")
