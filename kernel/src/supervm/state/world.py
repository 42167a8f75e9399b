"""The world state: one account model for every execution engine.

:class:`WorldState` is the journaled overlay every VM backend, the block pipeline and RPC read
and write through. It is a :class:`~supervm.state.overlay.StateOverlay` (nested snapshots,
commutative additions, read and write sets per key, one atomic commit) whose keys follow the
layout in :mod:`supervm.state.keys`, with typed accessors for the account fields. A backend's hot
path may use the flat ``get``/``set``/``add_u256`` methods with keys from
:func:`~supervm.state.keys.storage_key` directly: the interface stays bytes in and bytes out, so
a native cache can later stand in for it.
"""

from __future__ import annotations

from supervm.errors import SuperVMError
from supervm.state.keys import (
    EMPTY_CODE_HASH,
    balance_key,
    code_hash_key,
    code_key,
    keccak256,
    nonce_key,
    storage_key,
)
from supervm.state.overlay import StateOverlay

#: Nonces are 64-bit (EIP-2681): an account at the maximum cannot send again.
MAX_NONCE = 2**64 - 1
_U256 = 2**256


class InsufficientBalanceError(SuperVMError):
    """A debit larger than the account's balance."""


class WorldState(StateOverlay):
    """Accounts (nonce, balance, code) and their storage over a key-value storage."""

    __slots__ = ()

    # -- account fields ------------------------------------------------------------------------

    def nonce(self, address: bytes) -> int:
        """The nonce of ``address`` (0 for an account never seen)."""
        raw = self.get(nonce_key(address))
        return int.from_bytes(raw, "big") if raw else 0

    def set_nonce(self, address: bytes, nonce: int) -> None:
        """Set the nonce of ``address``."""
        if not 0 <= nonce <= MAX_NONCE:
            raise ValueError(f"a nonce must be between 0 and 2**64-1, got {nonce}")
        if nonce:
            self.set(nonce_key(address), nonce.to_bytes(8, "big"))
        else:
            self.delete(nonce_key(address))

    def balance(self, address: bytes) -> int:
        """The balance of ``address`` in wei."""
        raw = self.get(balance_key(address))
        return int.from_bytes(raw, "little") if raw else 0

    def set_balance(self, address: bytes, amount: int) -> None:
        """Set the balance of ``address``."""
        if not 0 <= amount < _U256:
            raise ValueError(f"a balance must be between 0 and 2**256-1, got {amount}")
        if amount:
            self.set(balance_key(address), amount.to_bytes(32, "little"))
        else:
            self.delete(balance_key(address))

    def credit(self, address: bytes, amount: int) -> None:
        """Add ``amount`` to the balance without reading it.

        A commutative addition: credits to one account (the block's fee recipient, a popular
        token's treasury) never make transactions conflict with each other.
        """
        if amount < 0:
            raise ValueError(f"a credit must not be negative, got {amount}")
        if amount:
            self.add_u256(balance_key(address), amount)

    def debit(self, address: bytes, amount: int) -> None:
        """Take ``amount`` from the balance; :class:`InsufficientBalanceError` if it is short."""
        if amount < 0:
            raise ValueError(f"a debit must not be negative, got {amount}")
        balance = self.balance(address)
        if amount > balance:
            raise InsufficientBalanceError(
                f"insufficient balance: 0x{address.hex()} has {balance}, needs {amount}"
            )
        if amount:
            self.set_balance(address, balance - amount)

    def transfer(self, sender: bytes, recipient: bytes, amount: int) -> None:
        """Move ``amount`` wei from ``sender`` to ``recipient``."""
        self.debit(sender, amount)
        self.credit(recipient, amount)

    def code_hash(self, address: bytes) -> bytes:
        """The Keccak-256 of the code at ``address`` (:data:`EMPTY_CODE_HASH` if none)."""
        return self.get(code_hash_key(address)) or EMPTY_CODE_HASH

    def code(self, address: bytes) -> bytes:
        """The code at ``address`` (empty if none)."""
        code_hash = self.get(code_hash_key(address))
        if code_hash is None:
            return b""
        return self.get(code_key(code_hash)) or b""

    def code_by_hash(self, code_hash: bytes) -> bytes | None:
        """The code whose Keccak-256 is ``code_hash``, if any account ever had it."""
        if code_hash == EMPTY_CODE_HASH:
            return b""
        return self.get(code_key(code_hash))

    def set_code(self, address: bytes, code: bytes) -> bytes:
        """Give ``address`` ``code`` (stored once by hash); returns the code hash."""
        if not code:
            self.delete(code_hash_key(address))
            return EMPTY_CODE_HASH
        code_hash = keccak256(code)
        if self.peek(code_key(code_hash)) is None:
            self.set(code_key(code_hash), bytes(code))
        self.set(code_hash_key(address), code_hash)
        return code_hash

    def has_code(self, address: bytes) -> bool:
        """Whether a contract lives at ``address``."""
        return self.get(code_hash_key(address)) is not None

    def is_empty(self, address: bytes) -> bool:
        """EIP-161's empty account: no nonce, no balance, no code."""
        return not (self.nonce(address) or self.balance(address) or self.has_code(address))

    # -- storage -------------------------------------------------------------------------------

    def storage(self, address: bytes, key: bytes) -> bytes | None:
        """The value of ``key`` in the storage of ``address`` (``None`` if unset)."""
        return self.get(storage_key(address, key))

    def set_storage(self, address: bytes, key: bytes, value: bytes | None) -> None:
        """Set ``key`` in the storage of ``address``; ``None`` or empty deletes it."""
        if value:
            self.set(storage_key(address, key), value)
        else:
            self.delete(storage_key(address, key))

    def add_storage(self, address: bytes, key: bytes, amount: int) -> None:
        """Add ``amount`` to a 32-byte little-endian slot without reading it."""
        self.add_u256(storage_key(address, key), amount)


__all__ = ["MAX_NONCE", "InsufficientBalanceError", "WorldState"]
