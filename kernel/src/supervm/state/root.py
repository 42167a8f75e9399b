"""The Ethereum state root: an account trie and one storage trie per account.

Both are secure tries (keyed by keccak256 of the address or slot key). An account's leaf is
``rlp([nonce, balance, storage_root, code_hash])``. A storage leaf is the RLP of the slot's value:

- **EVM slots** (``storage=``): the 32-byte word with its leading zero bytes stripped, i.e. the
  big-endian bytes of the integer, as Ethereum stores it; a zero word deletes the slot.
- **WASM slots** (``wasm_storage=``): keys are arbitrary byte strings (hashed like EVM slot
  keys) and values are arbitrary bytes, stored as they are (no stripping, so ``b"\\x00"`` is a
  value); an empty value deletes the key.

``StateRoot.apply`` takes one block's *net* changes and returns the new root; ``commit`` returns
the new trie nodes for the caller's atomic block batch. Nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from supervm.state.trie import (
    _EMPTY,
    _STR_HDR,
    EMPTY_ROOT,
    NodeLookup,
    SecureTrie,
    _enc_str,
    _item,
    _list_items,
    _new_keccak,
    _Splice,
    _str_payload,
    _Value,
    keccak256,
)

__all__ = [
    "EMPTY_CODE_HASH",
    "Account",
    "AccountState",
    "StateRoot",
    "encode_account",
]

#: keccak256(b""): the code hash of an account without code.
EMPTY_CODE_HASH = keccak256(b"")

_U64 = 1 << 64
_U256 = 1 << 256


class Account(NamedTuple):
    """An account's fields as a block leaves them; the storage root is computed here."""

    nonce: int
    balance: int
    code_hash: bytes = EMPTY_CODE_HASH


class AccountState(NamedTuple):
    """An account as the state trie holds it."""

    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


def _enc_uint(n: int) -> bytes:
    if n == 0:
        return _EMPTY
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return _STR_HDR[len(b)] + b


def encode_account(nonce: int, balance: int, storage_root: bytes, code_hash: bytes) -> bytes:
    """``rlp([nonce, balance, storage_root, code_hash])``: an account leaf's value."""
    if not 0 <= nonce < _U64 or not 0 <= balance < _U256:
        raise ValueError("the nonce is a uint64 and the balance a uint256")
    if len(storage_root) != 32 or len(code_hash) != 32:
        raise ValueError("the storage root and the code hash are 32 bytes")
    payload = _enc_uint(nonce) + _enc_uint(balance) + b"\xa0" + storage_root + b"\xa0" + code_hash
    # 68 to 110 bytes: always a one-byte long-form list header.
    return bytes((0xF8, len(payload))) + payload


def _decode_account(leaf: bytes) -> AccountState:
    """The inverse of ``encode_account`` (a leaf this module or another Ethereum client wrote)."""
    is_list, ps, pe = _item(leaf, 0, len(leaf))
    items = _list_items(leaf, ps, pe)
    if not is_list or pe != len(leaf) or len(items) != 4 or any(i[0] for i in items):
        raise ValueError("an account leaf is a list of four byte strings")
    n, b, r, c = (leaf[s:e] for _, _, s, e in items)
    return AccountState(int.from_bytes(n, "big"), int.from_bytes(b, "big"), r, c)


class StateRoot:
    """Maintains the account trie and the storage tries, block by block.

    Open it on a committed root with the same ``get_node`` the tries' nodes were written to;
    nodes are loaded lazily and kept in memory (``release`` drops them).
    """

    __slots__ = ("_accounts", "_dropped", "_get_node", "_storage", "_touched")

    def __init__(self, root: bytes = EMPTY_ROOT, get_node: NodeLookup | None = None) -> None:
        self._get_node = get_node
        self._accounts = SecureTrie(root, get_node)
        # Storage tries opened so far, by address, and those with nodes not yet committed.
        self._storage: dict[bytes, SecureTrie] = {}
        self._touched: dict[bytes, SecureTrie] = {}
        # Uncommitted nodes of storage tries replaced since (wiped or deleted accounts): an
        # earlier apply's root may still need them.
        self._dropped: dict[bytes, bytes] = {}

    # - reading -

    def root_hash(self) -> bytes:
        """The state root after the last ``apply``."""
        return self._accounts.root_hash()

    def account(self, address: bytes) -> AccountState | None:
        """The account at ``address`` as the trie holds it, or None."""
        leaf = self._accounts.get(address)
        return None if leaf is None else _decode_account(leaf)

    def storage(self, address: bytes, key: bytes) -> bytes | None:
        """The value stored under ``key`` in the account's storage: an EVM word without its
        leading zero bytes, or a WASM value as written; None if unset."""
        leaf = self._storage_trie(address).get(key)
        return None if leaf is None else _str_payload(leaf)

    def account_proof(self, address: bytes) -> list[bytes]:
        """The account trie nodes on ``address``'s path (``eth_getProof``'s accountProof);
        verify with ``verify_proof(root, keccak256(address), proof)``."""
        return self._accounts.proof(address)

    def storage_proof(self, address: bytes, key: bytes) -> list[bytes]:
        """The storage trie nodes on ``key``'s path (``eth_getProof``'s storageProof[].proof);
        verify against the account's storage root with ``keccak256(key)``."""
        return self._storage_trie(address).proof(key)

    def _storage_root_of(self, path: str) -> bytes:
        venc = self._accounts._get_venc(path)
        # The leaf ends with 0xa0 storage_root 0xa0 code_hash: no need to decode the rest.
        return EMPTY_ROOT if venc is None else venc[-65:-33]

    def _storage_trie(
        self, address: bytes, path: str | None = None, *, writing: bool = False
    ) -> SecureTrie:
        """The account's storage trie, kept open (with what it loads) for the next use."""
        t = self._storage.get(address)
        if t is None:
            root = self._storage_root_of(keccak256(address).hex() if path is None else path)
            t = SecureTrie(root, self._get_node)
            if writing or root != EMPTY_ROOT:
                # Reads of empty storage (say, of addresses that do not exist) must not fill
                # memory with empty tries.
                self._storage[address] = t
        return t

    # - writing -

    def apply(
        self,
        accounts: Mapping[bytes, Account | None],
        storage: Mapping[bytes, Mapping[bytes, bytes | None]] | None = None,
        *,
        wasm_storage: Mapping[bytes, Mapping[bytes, bytes | None]] | None = None,
        wiped: Iterable[bytes] = (),
    ) -> bytes:
        """Apply one block's net changes and return the new state root.

        ``accounts``: every account whose nonce, balance or code hash changed, with its new
        fields, or None if it was deleted (its storage goes with it). ``storage`` and
        ``wasm_storage``: address -> slot key -> new value, None (or zero / empty) to clear;
        an account whose storage changed must exist after the block, but need not be listed in
        ``accounts`` if its other fields did not change. ``wiped``: accounts whose storage was
        cleared before this block's slot writes (an account destroyed and created again).
        """
        keccak = _new_keccak()
        account_path: dict[bytes, str] = {}

        def path_of(address: bytes) -> str:
            p = account_path.get(address)
            if p is None:
                p = account_path[address] = keccak(address).hex()
            return p

        # First everything that can fail, so that a bad block leaves the state as it was. The
        # account leaves are encoded here too, all but their storage root: the value item is
        # b8 len f8 len rlp(nonce) rlp(balance) a0 <storage root> a0 <code hash>.
        parts: list[tuple[bytes, str, bytes, bytes] | tuple[bytes, str, None, None]] = []
        for address, acc in accounts.items():
            path = account_path[address] = keccak(address).hex()
            if acc is None:
                parts.append((address, path, None, None))
                continue
            nonce, balance, code_hash = acc
            if not 0 <= nonce < _U64 or not 0 <= balance < _U256 or len(code_hash) != 32:
                raise ValueError(f"invalid account fields {acc!r}")
            if nonce == 0:
                head = _EMPTY
            elif nonce < 0x80:
                head = bytes((nonce,))
            else:
                b = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
                head = _STR_HDR[len(b)] + b
            if balance == 0:
                head += _EMPTY
            elif balance < 0x80:
                head += bytes((balance,))
            else:
                b = balance.to_bytes((balance.bit_length() + 7) // 8, "big")
                head += _STR_HDR[len(b)] + b
            n = len(head) + 66
            parts.append(
                (address, path, bytes((0xB8, n + 2, 0xF8, n)) + head + b"\xa0", b"\xa0" + code_hash)
            )
        wiped = set(wiped)
        slot_changes: dict[bytes, dict[str, bytes | None]] = {}
        for address in {*(storage or ()), *(wasm_storage or ())}:
            changes = slot_changes[address] = {}
            if storage is not None and address in storage:
                for k, w in storage[address].items():
                    w = w.lstrip(b"\x00") if w else w
                    if not w:
                        changes[keccak(k).hex()] = None
                        continue
                    n = len(w)
                    if n > 32:
                        raise ValueError("an EVM storage value is at most 32 bytes")
                    # The leaf value is rlp(w); the node holds that as an RLP string again.
                    inner = w if n == 1 and w[0] < 0x80 else _STR_HDR[n] + w
                    n = len(inner)
                    changes[keccak(k).hex()] = (
                        inner if n == 1 and inner[0] < 0x80 else _STR_HDR[n] + inner
                    )
            if wasm_storage is not None and address in wasm_storage:
                for k, v in wasm_storage[address].items():
                    changes[keccak(k).hex()] = _enc_str(_enc_str(v)) if v else None
            written = any(v is not None for v in changes.values())
            if address in accounts:
                if accounts[address] is None and written:
                    raise ValueError(f"storage written for deleted account {address.hex()}")
            elif written and self._accounts._get_venc(path_of(address)) is None:
                raise ValueError(f"storage written for missing account {address.hex()}")

        for address in wiped:
            self._drop_storage(address)
            self._storage[address] = self._touched[address] = SecureTrie(EMPTY_ROOT, self._get_node)
            slot_changes.setdefault(address, {})  # its leaf takes the new storage root
        new_roots: dict[bytes, bytes] = {}
        for address, changes in slot_changes.items():
            if address in accounts and accounts[address] is None:
                continue  # its storage goes with it, below
            t = self._storage_trie(address, path_of(address), writing=True)
            t._update_venc(changes)
            new_roots[address] = t.root_hash()
            self._touched[address] = t

        leaves: dict[str, _Value] = {}
        for address, path, vhead, tail in parts:
            if vhead is None or tail is None:
                leaves[path] = None
                self._drop_storage(address)
                continue
            sroot = new_roots.get(address)
            if sroot is None:
                opened = self._storage.get(address)
                if opened is None:
                    # Whatever storage root the account has now, it keeps: the trie fills it in
                    # from the old leaf on its way to it (EMPTY_ROOT for a new account).
                    leaves[path] = _Splice(vhead, tail, -65, -33, EMPTY_ROOT)
                    continue
                sroot = opened.root_hash()
            leaves[path] = vhead + sroot + tail
        for address, sroot in new_roots.items():
            if address in accounts:
                continue
            path = path_of(address)
            venc = self._accounts._get_venc(path)
            if venc is None:
                # Only deletes of slots of an account that does not exist: nothing to record.
                continue
            # Same length, so the headers stay: splice the new storage root in.
            leaves[path] = venc[:-65] + sroot + venc[-33:]
        self._accounts._update_venc(leaves, splicing=True)
        return self._accounts.root_hash()

    def _drop_storage(self, address: bytes) -> None:
        self._storage.pop(address, None)
        t = self._touched.pop(address, None)
        if t is not None:
            self._dropped.update(t.commit())

    def commit(self) -> dict[bytes, bytes]:
        """The trie nodes (hash -> RLP) created since the last commit, storage tries' included,
        for the caller to write in the block's batch."""
        out = self._dropped
        self._dropped = {}
        for t in self._touched.values():
            out.update(t.commit())
        self._touched.clear()
        out.update(self._accounts.commit())
        return out

    def release(self) -> None:
        """Forget every loaded node (they reload from storage as needed), to bound memory.

        Only after ``commit``: nodes not yet handed out would be lost.
        """
        if self._get_node is None:
            raise ValueError("a state without get_node cannot reload what it forgets")
        if self._touched or self._dropped or self._accounts.has_uncommitted():
            raise ValueError("commit before release")
        self._accounts = SecureTrie(self._accounts.root_hash(), self._get_node)
        self._storage.clear()
