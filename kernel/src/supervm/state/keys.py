"""How the world state is laid out in a key-value :class:`~supervm.state.storage.Storage`.

A flat, "plain state" layout (as reth and Erigon keep beside their tries): one key per account
field and per storage slot, so that a read is one lookup, a scheduler reasons about conflicts
from keys alone, and a native cache can sit in front of it with bytes in and bytes out.

========================  ===============================  ===================================
key                       value                            notes
========================  ===============================  ===================================
``01 addr key``           a storage slot's value           EVM: 32-byte slot, 32-byte word;
                                                           WASM: the host ABI's key and value
``02 code_hash``          code                             stored once, shared by accounts
``03 addr``               nonce, 8 bytes big-endian        absent: 0
``04 addr``               balance, 32 bytes little-endian  absent: 0; little-endian so that
                                                           credits are commutative additions
``05 addr``               code hash, 32 bytes              absent: no code
========================  ===============================  ===================================

Chain data (blocks, receipts, indexes, trie nodes) lives under prefixes from ``0x10`` up, in
the same storage, so that a block and its state are written in one batch.
"""

from __future__ import annotations

# Re-exported: world.py and addresses.py import it from here.
from supervm.crypto import keccak256 as keccak256

#: Prefix of an account's storage slots: ``STORAGE_PREFIX + address + key``.
STORAGE_PREFIX = b"\x01"
#: Prefix of code by its Keccak-256 hash.
CODE_PREFIX = b"\x02"
#: Prefix of account nonces.
NONCE_PREFIX = b"\x03"
#: Prefix of account balances.
BALANCE_PREFIX = b"\x04"
#: Prefix of account code hashes.
CODE_HASH_PREFIX = b"\x05"
#: Prefixes of the account fields, in the order the state root reads them.
ACCOUNT_PREFIXES = (NONCE_PREFIX, BALANCE_PREFIX, CODE_HASH_PREFIX)
#: World-state keys are below this byte; chain data is at or above it.
CHAIN_DATA_START = b"\x10"


#: Keccak-256 of no code: the code hash of every account without code.
EMPTY_CODE_HASH = keccak256(b"")


def storage_key(address: bytes, key: bytes) -> bytes:
    """The world-state key of ``key`` in the storage of the account at ``address``."""
    return STORAGE_PREFIX + address + key


def storage_prefix(address: bytes) -> bytes:
    """The prefix under which all of one account's storage lives."""
    return STORAGE_PREFIX + address


def code_key(code_hash: bytes) -> bytes:
    """The world-state key of the code whose Keccak-256 is ``code_hash``."""
    return CODE_PREFIX + code_hash


def nonce_key(address: bytes) -> bytes:
    """The world-state key of the nonce of ``address``."""
    return NONCE_PREFIX + address


def balance_key(address: bytes) -> bytes:
    """The world-state key of the balance of ``address``."""
    return BALANCE_PREFIX + address


def code_hash_key(address: bytes) -> bytes:
    """The world-state key of the code hash of ``address``."""
    return CODE_HASH_PREFIX + address


def account_of(key: bytes) -> bytes | None:
    """The address a world-state key belongs to (``None`` for code and chain data)."""
    prefix = key[:1]
    if prefix == STORAGE_PREFIX or prefix in ACCOUNT_PREFIXES:
        return key[1:21]
    return None
