"""Reading what a pyrevm run changed, from revm's journaled state.

pyrevm 0.3.7 hands back the accounts of its journal (``EVM.journal_state``) without their
storage or their status flags (created, self-destructed, touched), and nothing else; the only
full view is ``EVM.journal_str``, the Rust ``Debug`` text of revm 8's ``JournaledState``. This
module parses the part of that text a write-back needs: per account, its balance, nonce, code
hash, code (for created contracts), the storage slots the run loaded or wrote (original and
present values), its status flags, and the call targets of the run (every call frame journals
a ``BalanceTransfer`` from caller to callee, even for no value). The format belongs to the
pinned pyrevm and revm versions (``pyrevm==0.3.7``, revm 8); the tests parse real output, so
a version that changed it would fail them rather than write back garbage.

Parsing uses ``str.find`` to jump over bytecode (a contract's code is printed in hex, often
tens of kilobytes), so its cost is per account and per slot, not per byte of code.
"""

from __future__ import annotations

from typing import Final

import attrs

_STATE_START: Final = "JournaledState { state: {"
_STATE_END: Final = "}, transient_storage: {"
_ACCOUNT: Final = ": Account { info: AccountInfo { balance: "
_NONCE: Final = ", nonce: "
_CODE_HASH: Final = ", code_hash: 0x"
_CODE: Final = ", code: "
_STORAGE: Final = " }, storage: {"
_STATUS: Final = "}, status: AccountStatus("
_SLOT: Final = ": StorageSlot { previous_or_original_value: "
_PRESENT: Final = ", present_value: "
_BYTECODE: Final = "Some(Bytecode { bytecode: 0x"
_TRANSFER: Final = "BalanceTransfer { from: 0x"
_TRANSFER_TO: Final = ", to: 0x"


class JournalFormatError(Exception):
    """pyrevm's journal text is not in the format this module reads (another pyrevm version?)."""


@attrs.frozen
class JournalAccount:
    """One account as revm's journal holds it after a run.

    :param address: the 20-byte address.
    :param balance: the balance after the run.
    :param nonce: the nonce after the run.
    :param code_hash: the code hash after the run.
    :param code: the code of a contract the run created (``None`` for the others).
    :param storage: slot -> ``(original, present)``: the value revm read from its database at
        the first access in the run, and the value after it.
    :param status: revm's ``AccountStatus`` flags by name (``Touched``, ``Created``,
        ``SelfDestructed``, ``LoadedAsNotExisting``).
    """

    address: bytes
    balance: int
    nonce: int
    code_hash: bytes
    code: bytes | None
    storage: dict[int, tuple[int, int]]
    status: frozenset[str]

    @property
    def touched(self) -> bool:
        """Whether the run changed the account or marked it touched (EIP-161)."""
        return "Touched" in self.status

    @property
    def created(self) -> bool:
        """Whether the run created a contract at this address."""
        return "Created" in self.status

    @property
    def destroyed(self) -> bool:
        """Whether the run self-destructed the account (Cancun: only if it created it)."""
        return "SelfDestructed" in self.status


@attrs.frozen
class Journal:
    """What a run left in revm's journaled state.

    :param accounts: every account the run loaded, by address.
    :param callees: the accounts some call frame of the run called (value or not).
    """

    accounts: dict[bytes, JournalAccount]
    callees: frozenset[bytes]


def _code(text: str, start: int, end: int) -> bytes | None:
    """The code in ``text[start:end]``: ``None`` or ``Some(Bytecode { bytecode: 0x.., ..})``."""
    if text.startswith("None", start):
        return None
    if not text.startswith(_BYTECODE, start):
        raise JournalFormatError(f"unexpected code text {text[start : start + 40]!r}")
    hex_start = start + len(_BYTECODE)
    hex_end = text.index(",", hex_start, end)
    code = bytes.fromhex(text[hex_start:hex_end])
    # Analysed and checked bytecode is padded (a STOP and 32 bytes); the length is printed.
    length_at = text.find("len: ", hex_end, end)
    if length_at >= 0:
        digits_end = length_at + 5
        while text[digits_end].isdigit():
            digits_end += 1
        code = code[: int(text[length_at + 5 : digits_end])]
    return code


def _storage(text: str, start: int, end: int) -> dict[int, tuple[int, int]]:
    """The slots in ``text[start:end]``: ``K: StorageSlot { previous_or_original_value: O,
    present_value: P }`` separated by ``, ``."""
    slots: dict[int, tuple[int, int]] = {}
    pos = start
    while pos < end:
        key_end = text.index(_SLOT, pos, end)
        original_start = key_end + len(_SLOT)
        original_end = text.index(",", original_start, end)
        present_start = original_end + len(_PRESENT)
        present_end = text.index(" }", present_start, end)
        slots[int(text[pos:key_end])] = (
            int(text[original_start:original_end]),
            int(text[present_start:present_end]),
        )
        pos = present_end + 4  # past " }, " to the next key
    return slots


def parse_journal(text: str) -> Journal:
    """Parse pyrevm's ``EVM.journal_str`` (see the module docstring).

    :raises JournalFormatError: if the text is not revm 8's ``JournaledState`` as expected.
    """
    if not text.startswith(_STATE_START):
        raise JournalFormatError(f"not a revm journal: {text[:60]!r}")
    state_end = text.find(_STATE_END)
    if state_end < 0:
        raise JournalFormatError("no end of the journal's state in pyrevm's journal text")
    accounts: dict[bytes, JournalAccount] = {}
    pos = len(_STATE_START)
    try:
        while True:
            at = text.find(_ACCOUNT, pos, state_end)
            if at < 0:
                break
            address = bytes.fromhex(text[at - 40 : at])
            balance_start = at + len(_ACCOUNT)
            nonce_at = text.index(_NONCE, balance_start)
            hash_at = text.index(_CODE_HASH, nonce_at)
            code_at = hash_at + len(_CODE_HASH) + 64
            storage_at = text.index(_STORAGE, code_at)
            status_at = text.index(_STATUS, storage_at)
            status_start = status_at + len(_STATUS)
            status_end = text.index(")", status_start)
            flags = text[status_start:status_end]
            status = frozenset(f.strip() for f in flags.split("|")) - {"0x0"}
            accounts[address] = JournalAccount(
                address=address,
                balance=int(text[balance_start:nonce_at]),
                nonce=int(text[nonce_at + len(_NONCE) : hash_at]),
                code_hash=bytes.fromhex(text[hash_at + len(_CODE_HASH) : code_at]),
                # Only a created contract's code is new; the rest is known by its hash.
                code=_code(text, code_at + len(_CODE), storage_at) if "Created" in status else None,
                storage=_storage(text, storage_at + len(_STORAGE), status_at),
                status=status,
            )
            pos = status_end
        callees: set[bytes] = set()
        pos = state_end
        while True:
            at = text.find(_TRANSFER, pos)
            if at < 0:
                break
            to_at = text.index(_TRANSFER_TO, at) + len(_TRANSFER_TO)
            callees.add(bytes.fromhex(text[to_at : to_at + 40]))
            pos = to_at
    except ValueError as exc:
        raise JournalFormatError(f"unexpected pyrevm journal text: {exc}") from None
    return Journal(accounts, frozenset(callees))


__all__ = ["Journal", "JournalAccount", "JournalFormatError", "parse_journal"]
