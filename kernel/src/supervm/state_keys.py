"""How contract data is laid out in the one world state.

Every execution backend stores contract data under these keys, so that engines share one state
and a scheduler can reason about conflicts from keys alone.
"""

from __future__ import annotations

#: Prefix of a contract's storage slots: ``STORAGE_PREFIX + address + key``.
STORAGE_PREFIX = b"\x01"


def storage_key(address: bytes, key: bytes) -> bytes:
    """The world-state key of ``key`` in the storage of the contract at ``address``."""
    return STORAGE_PREFIX + address + key


def storage_prefix(address: bytes) -> bytes:
    """The world-state prefix under which all of one contract's storage lives."""
    return STORAGE_PREFIX + address


#: Prefix of deployed code: ``CODE_PREFIX + address``.
CODE_PREFIX = b"\x02"
#: Prefix of account nonces: ``NONCE_PREFIX + address`` -> 8-byte big-endian nonce.
NONCE_PREFIX = b"\x03"


def code_key(address: bytes) -> bytes:
    """The world-state key of the code deployed at ``address``."""
    return CODE_PREFIX + address


def nonce_key(address: bytes) -> bytes:
    """The world-state key of the nonce of ``address``."""
    return NONCE_PREFIX + address
