"""The world state of an earlier block, read through its state root's tries.

The flat layout (:mod:`supervm.state.keys`) holds the head's state only, but every block's trie
nodes are kept, so the state after any block can be read back from its state root:
:class:`HistoricalStorage` answers the flat layout's keys from the account trie and the storage
tries, so a :class:`~supervm.state.world.WorldState` over it reads (and a call runs on) the
state after that block. Each read walks the tries (a few node lookups), so it is for
``eth_getBalance``, ``eth_call`` and the like at an older block, not for executing blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from supervm.errors import SuperVMError
from supervm.state.keys import (
    BALANCE_PREFIX,
    CODE_HASH_PREFIX,
    CODE_PREFIX,
    EMPTY_CODE_HASH,
    NONCE_PREFIX,
    STORAGE_PREFIX,
    code_key,
)
from supervm.state.root import AccountState, StateRoot
from supervm.state.storage import Change, Storage

_ADDRESS = 20
_WASM_MAGIC = b"\0asm"
#: EVM storage words are 32 bytes; the trie keeps them without their leading zero bytes.
_WORD = 32


class ReadOnlyStateError(SuperVMError):
    """Something tried to change, or list, the state of an earlier block."""


class HistoricalStorage(Storage):
    """The world-state keys of the state whose tries ``root`` reads; read-only.

    :param root: the state root of the block, opened over the stored trie nodes.
    :param live: the current storage, for code (stored once by hash and never removed).
    """

    def __init__(self, root: StateRoot, live: Storage) -> None:
        self._root = root
        self._live = live
        self._accounts: dict[bytes, AccountState | None] = {}
        self._wasm: dict[bytes, bool] = {}

    def get(self, key: bytes) -> bytes | None:
        prefix = key[:1]
        if prefix == CODE_PREFIX:
            return self._live.get(key)
        if prefix == STORAGE_PREFIX:
            address, slot = key[1 : 1 + _ADDRESS], key[1 + _ADDRESS :]
            value = self._root.storage(address, slot)
            if value is None or self._is_wasm(address):
                return value
            return value.rjust(_WORD, b"\0")
        if len(key) != 1 + _ADDRESS:
            return None  # chain data is not state
        account = self._account(key[1:])
        if account is None:
            return None
        if prefix == NONCE_PREFIX:
            return account.nonce.to_bytes(8, "big") if account.nonce else None
        if prefix == BALANCE_PREFIX:
            return account.balance.to_bytes(32, "little") if account.balance else None
        if prefix == CODE_HASH_PREFIX:
            return None if account.code_hash == EMPTY_CODE_HASH else account.code_hash
        return None

    def _account(self, address: bytes) -> AccountState | None:
        if address not in self._accounts:
            self._accounts[address] = self._root.account(address)
        return self._accounts[address]

    def _is_wasm(self, address: bytes) -> bool:
        known = self._wasm.get(address)
        if known is None:
            account = self._account(address)
            code = b""
            if account is not None and account.code_hash != EMPTY_CODE_HASH:
                code = self._live.get(code_key(account.code_hash)) or b""
            known = self._wasm[address] = code.startswith(_WASM_MAGIC)
        return known

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        raise ReadOnlyStateError("the state of an earlier block cannot be listed, only read")

    def write_batch(self, changes: Iterable[Change]) -> None:
        raise ReadOnlyStateError("the state of an earlier block is read-only")
