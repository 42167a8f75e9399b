"""StateRoot against a reference built from scratch after every block with the ``trie``
package's HexaryTrie and the ``rlp`` package: account leaves rlp([nonce, balance,
storage_root, code_hash]) under keccak(address), storage leaves rlp(value) under keccak(key),
EVM words stripped of leading zeros, WASM values kept as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.state import (
    EMPTY_CODE_HASH,
    EMPTY_ROOT,
    Account,
    AccountState,
    StateRoot,
    keccak256,
    verify_proof,
)
from trie import HexaryTrie

ADDRESSES = [bytes([i]) * 20 for i in range(1, 7)]
SLOTS = [i.to_bytes(32, "big") for i in (0, 1, 2, 0x100, 2**255)]
WASM_KEYS = [b"", b"k", b"balance:alice", bytes(40)]


@dataclass
class Model:
    accounts: dict[bytes, Account] = field(default_factory=dict)
    storage: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)  # the leaf values

    def root(self) -> bytes:
        state = HexaryTrie({})
        for address, acc in self.accounts.items():
            state.set(
                keccak256(address),
                rlp.encode([acc.nonce, acc.balance, self.storage_root(address), acc.code_hash]),
            )
        return state.root_hash

    def storage_root(self, address: bytes) -> bytes:
        t = HexaryTrie({})
        for k, v in self.storage.get(address, {}).items():
            t.set(keccak256(k), v)
        return t.root_hash


@dataclass
class Block:
    accounts: dict[bytes, Account | None]
    storage: dict[bytes, dict[bytes, bytes | None]]
    wasm: dict[bytes, dict[bytes, bytes | None]]
    wiped: set[bytes]


ACCOUNTS = st.builds(
    Account,
    st.integers(0, 2**64 - 1),
    st.one_of(st.integers(0, 200), st.integers(0, 2**256 - 1)),
    st.sampled_from([EMPTY_CODE_HASH, keccak256(b"code")]),
)
WORDS = st.one_of(
    st.none(),
    st.just(bytes(32)),
    st.integers(0, 2**256 - 1).map(lambda n: n.to_bytes(32, "big")),
    st.binary(max_size=3),
)
WASM_VALUES = st.one_of(st.none(), st.just(b""), st.binary(max_size=4), st.binary(max_size=80))


@st.composite
def blocks(draw: st.DrawFn, model: Model) -> Block:
    accounts = draw(st.dictionaries(st.sampled_from(ADDRESSES), st.one_of(st.none(), ACCOUNTS)))
    # Storage may only be written where an account exists after the block.
    alive = [a for a in ADDRESSES if accounts.get(a, model.accounts.get(a)) is not None]
    storage = {}
    wasm = {}
    wiped = set()
    if alive:
        addr = st.sampled_from(alive)
        storage = draw(st.dictionaries(addr, st.dictionaries(st.sampled_from(SLOTS), WORDS)))
        wasm = draw(st.dictionaries(addr, st.dictionaries(st.sampled_from(WASM_KEYS), WASM_VALUES)))
        wiped = draw(st.sets(st.sampled_from(alive)))
    return Block(accounts, storage, wasm, wiped)


def apply_model(model: Model, block: Block) -> None:
    for address in block.wiped:
        model.storage.pop(address, None)
    for address, slots in block.storage.items():
        for k, w in slots.items():
            value = (w or b"").lstrip(b"\0")
            if value:
                model.storage.setdefault(address, {})[k] = rlp.encode(value)
            else:
                model.storage.get(address, {}).pop(k, None)
    for address, wslots in block.wasm.items():
        for k, v in wslots.items():
            if v:
                model.storage.setdefault(address, {})[k] = rlp.encode(v)
            else:
                model.storage.get(address, {}).pop(k, None)
    for address, acc in block.accounts.items():
        if acc is None:
            model.accounts.pop(address, None)
            model.storage.pop(address, None)
        else:
            model.accounts[address] = acc


def check_contents(state: StateRoot, model: Model) -> None:
    for address in ADDRESSES:
        acc = model.accounts.get(address)
        got = state.account(address)
        if acc is None:
            assert got is None
        else:
            assert got == AccountState(
                acc.nonce, acc.balance, model.storage_root(address), acc.code_hash
            )
            proof = state.account_proof(address)
            leaf = verify_proof(state.root_hash(), keccak256(address), proof)
            assert leaf == rlp.encode(list(got))
        for k in SLOTS + WASM_KEYS:
            leaf = model.storage.get(address, {}).get(k)
            assert state.storage(address, k) == (None if leaf is None else rlp.decode(leaf))


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_state_root_matches_a_reference_built_from_scratch(data: st.DataObject) -> None:
    model = Model()
    state = StateRoot()
    db: dict[bytes, bytes] = {}
    history: list[tuple[bytes, Model]] = []
    for _ in range(data.draw(st.integers(1, 5))):
        block = data.draw(blocks(model))
        apply_model(model, block)
        root = state.apply(
            block.accounts, block.storage, wasm_storage=block.wasm, wiped=block.wiped
        )
        assert root == model.root() == state.root_hash()
        history.append(
            (root, Model(dict(model.accounts), {a: dict(s) for a, s in model.storage.items()}))
        )
        if data.draw(st.booleans()):  # several blocks may share one commit
            db.update(state.commit())
            if data.draw(st.booleans()):
                state = StateRoot(root, db.get)  # carry on from the committed nodes only
                assert state.root_hash() == root
    check_contents(state, model)
    db.update(state.commit())
    # Every block's root re-opens from what was committed, even where later blocks in the
    # same commit replaced or dropped those nodes.
    for root, snapshot in history:
        check_contents(StateRoot(root, db.get), snapshot)


def test_evm_words_are_stripped_and_wasm_values_kept() -> None:
    a = b"\xaa" * 20
    state = StateRoot()
    state.apply(
        {a: Account(1, 0)},
        {a: {bytes(32): (5).to_bytes(32, "big")}},
        wasm_storage={a: {b"k": b"\x00\x05", b"zero": b"\x00"}},
    )
    assert state.storage(a, bytes(32)) == b"\x05"
    assert state.storage(a, b"k") == b"\x00\x05"
    assert state.storage(a, b"zero") == b"\x00"
    # A zero word clears an EVM slot; only an empty value clears a WASM key.
    state.apply({}, {a: {bytes(32): bytes(32)}}, wasm_storage={a: {b"k": b""}})
    assert state.storage(a, bytes(32)) is None
    assert state.storage(a, b"k") is None
    assert state.storage(a, b"zero") == b"\x00"
    sroot = state.account(a).storage_root  # type: ignore[union-attr]
    proof = state.storage_proof(a, b"zero")
    assert verify_proof(sroot, keccak256(b"zero"), proof) == rlp.encode(b"\x00")


def test_storage_only_changes_keep_the_account_fields() -> None:
    a = b"\x01" * 20
    state = StateRoot()
    state.apply({a: Account(7, 99, keccak256(b"code"))})
    state.apply({}, {a: {bytes(32): b"\x01"}})
    got = state.account(a)
    assert got is not None
    assert (got.nonce, got.balance, got.code_hash) == (7, 99, keccak256(b"code"))
    assert got.storage_root != EMPTY_ROOT


def test_a_bad_block_changes_nothing() -> None:
    a, b = b"\x01" * 20, b"\x02" * 20
    state = StateRoot()
    root = state.apply({a: Account(1, 1)}, {a: {bytes(32): b"\x01"}})
    with pytest.raises(ValueError, match="missing account"):
        state.apply({a: Account(2, 2)}, {b: {bytes(32): b"\x01"}})
    with pytest.raises(ValueError, match="deleted account"):
        state.apply({a: None}, {a: {bytes(32): b"\x02"}})
    with pytest.raises(ValueError, match="at most 32 bytes"):
        state.apply({a: Account(2, 2)}, {a: {bytes(32): b"\x01" * 33}})
    with pytest.raises(ValueError, match="invalid account"):
        state.apply({a: Account(2**64, 2)})
    with pytest.raises(ValueError, match="invalid account"):
        state.apply({a: Account(1, -1)})
    assert state.root_hash() == root
    assert state.account(a) == AccountState(1, 1, state.account(a).storage_root, EMPTY_CODE_HASH)  # type: ignore[union-attr]


def test_release_drops_loaded_nodes_and_reloads_them() -> None:
    a = b"\x01" * 20
    db: dict[bytes, bytes] = {}
    state = StateRoot(get_node=db.get)
    root = state.apply({a: Account(1, 1)}, {a: {bytes(32): b"\x01"}})
    with pytest.raises(ValueError, match="commit"):
        state.release()
    db.update(state.commit())
    state.release()
    assert state.storage(a, bytes(32)) == b"\x01"
    assert state.apply({a: Account(2, 1)}) != root
