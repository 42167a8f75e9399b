"""The state root of a block: the flat world-state changes folded into Ethereum's tries.

The world state is stored flat (:mod:`supervm.state.keys`); the commitment is Ethereum's
Merkle Patricia state root (:class:`~supervm.state.root.StateRoot`), so that EVM-only states
have Ethereum's roots and ``eth_getProof`` can be answered. After a block, :func:`root_changes`
turns the block's net changes into the account and storage updates the tries need: the new
fields of every account a change touched, and the slot changes per account, EVM-style (words
stripped of leading zeros) for EVM contracts and as raw bytes for WASM contracts, whose keys
and values are the host ABI's. Trie nodes are stored under :data:`TRIE_NODE_PREFIX` in the same
batch as the block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from supervm.state.keys import (
    ACCOUNT_PREFIXES,
    EMPTY_CODE_HASH,
    STORAGE_PREFIX,
    balance_key,
    code_hash_key,
    code_key,
    nonce_key,
)
from supervm.state.root import Account

#: Trie nodes by hash: ``TRIE_NODE_PREFIX + keccak256(node)`` -> the node's RLP.
TRIE_NODE_PREFIX = b"\x10"
_WASM_MAGIC = b"\0asm"

#: Reads the post-block value of a world-state key (buffered changes over storage).
Reader = Callable[[bytes], bytes | None]
RootInput = tuple[
    dict[bytes, Account | None],
    dict[bytes, dict[bytes, bytes | None]],
    dict[bytes, dict[bytes, bytes | None]],
]


def root_changes(keys: Iterable[bytes], read: Reader) -> RootInput:
    """The trie updates for a block whose changed world-state keys are ``keys``.

    :param keys: every world-state key the block changed (chain data keys are ignored).
    :param read: the value of a key after the block.
    :returns: ``(accounts, evm_storage, wasm_storage)`` for
        :meth:`~supervm.state.root.StateRoot.apply`.
    """
    touched: set[bytes] = set()
    slots: dict[bytes, list[bytes]] = {}
    for key in keys:
        prefix = key[:1]
        if prefix == STORAGE_PREFIX:
            slots.setdefault(key[1:21], []).append(key)
        elif prefix in ACCOUNT_PREFIXES:
            touched.add(key[1:21])
    accounts: dict[bytes, Account | None] = {}
    for address in touched:
        raw_nonce = read(nonce_key(address))
        raw_balance = read(balance_key(address))
        code_hash = read(code_hash_key(address)) or EMPTY_CODE_HASH
        nonce = int.from_bytes(raw_nonce, "big") if raw_nonce else 0
        balance = int.from_bytes(raw_balance, "little") if raw_balance else 0
        empty = not nonce and not balance and code_hash == EMPTY_CODE_HASH
        # EIP-161: an account left with nothing is not in the trie.
        accounts[address] = None if empty else Account(nonce, balance, code_hash)
    evm: dict[bytes, dict[bytes, bytes | None]] = {}
    wasm: dict[bytes, dict[bytes, bytes | None]] = {}
    for address, keys_of in slots.items():
        contract = read(code_hash_key(address))
        code = read(code_key(contract)) if contract else None
        is_wasm = code is not None and code[:4] == _WASM_MAGIC
        target = wasm if is_wasm else evm
        target[address] = {key[21:]: read(key) for key in keys_of}
    return accounts, evm, wasm
