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

import re
from typing import Final, NamedTuple

_STATE_START: Final = "JournaledState { state: {"
_STORAGE: Final = " }, storage: {"
_STATUS: Final = "}, status: AccountStatus("
_BYTECODE: Final = "Some(Bytecode { bytecode: 0x"
# [0-9], not \d: twice as fast to match (no Unicode categories).
_HEAD_RE: Final = re.compile(
    r"0x([0-9a-f]{40}): Account \{ info: AccountInfo \{ balance: ([0-9]+), nonce: ([0-9]+), "
    r"code_hash: 0x([0-9a-f]{64}), code: "
)
_SLOT: Final = re.compile(
    r"([0-9]+): StorageSlot \{ previous_or_original_value: ([0-9]+), present_value: ([0-9]+) \}"
)
_CALLEE: Final = re.compile(r"BalanceTransfer \{ from: 0x[0-9a-f]{40}, to: 0x([0-9a-f]{40})")
_LENGTH: Final = re.compile(r"len: ([0-9]+)")


class JournalFormatError(Exception):
    """pyrevm's journal text is not in the format this module reads (another pyrevm version?)."""


class JournalAccount(NamedTuple):
    """One account as revm's journal holds it after a run (a plain tuple: one is made per
    account of every run, on the hot path).

    :param address: the 20-byte address.
    :param balance: the balance after the run.
    :param nonce: the nonce after the run.
    :param code_hash: the code hash after the run.
    :param code: the code of a contract the run created (``None`` for the others).
    :param storage: slot -> ``(original, present)``: the value revm read from its database at
        the first access in the run, and the value after it.
    :param flags: revm's ``AccountStatus`` flags as printed (``Touched | Created``, ``0x0``).
    """

    address: bytes
    balance: int
    nonce: int
    code_hash: bytes
    code: bytes | None
    storage: dict[int, tuple[int, int]]
    flags: str

    @property
    def status(self) -> frozenset[str]:
        """The flags by name (``Touched``, ``Created``, ``SelfDestructed``,
        ``LoadedAsNotExisting``)."""
        return frozenset(f.strip() for f in self.flags.split("|")) - {"0x0"}

    @property
    def touched(self) -> bool:
        """Whether the run changed the account or marked it touched (EIP-161)."""
        return "Touched" in self.flags

    @property
    def created(self) -> bool:
        """Whether the run created a contract at this address."""
        return "Created" in self.flags

    @property
    def destroyed(self) -> bool:
        """Whether the run self-destructed the account (Cancun: only if it created it)."""
        return "SelfDestructed" in self.flags


class Journal(NamedTuple):
    """What a run left in revm's journaled state.

    :param accounts: every account the run loaded, by address.
    :param text: the journal's text, and where its state ends in it (for :attr:`callees`).
    """

    accounts: dict[bytes, JournalAccount]
    text: str = ""
    state_end: int = 0

    @property
    def callees(self) -> frozenset[bytes]:
        """The accounts some call frame of the run called (value or not); read from the
        journal's entries when asked (seldom: only for a WebAssembly caller)."""
        return frozenset(bytes.fromhex(to) for to in _CALLEE.findall(self.text, self.state_end))


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
    length = _LENGTH.search(text, hex_end, end)
    if length is not None:
        code = code[: int(length.group(1))]
    return code


def parse_journal(text: str) -> Journal:
    """Parse pyrevm's ``EVM.journal_str`` (see the module docstring).

    The hot path of every run: fixed offsets and ``str.find`` (which jumps over the code's
    hex), a regular expression only for storage slots, anchored (a search would backtrack in
    the digits).

    :raises JournalFormatError: if the text is not revm 8's ``JournaledState`` as expected.
    """
    if not text.startswith(_STATE_START):
        raise JournalFormatError(f"not a revm journal: {text[:60]!r}")
    accounts: dict[bytes, JournalAccount] = {}
    pos = len(_STATE_START)
    if text.startswith("}", pos):
        return Journal(accounts, text, pos)
    index, starts, match_head, match_slot = text.index, text.startswith, _HEAD_RE.match, _SLOT.match
    try:
        while True:
            head = match_head(text, pos)
            if head is None:
                raise JournalFormatError(f"unexpected account text {text[pos : pos + 80]!r}")
            code_at = head.end()
            # The code (often kilobytes of hex) is jumped over, not read.
            storage_at = index(_STORAGE, code_at)
            status_at = index(_STATUS, storage_at)
            flags_at = status_at + len(_STATUS)
            flags_end = index(")", flags_at)
            flags = text[flags_at:flags_end]
            storage: dict[int, tuple[int, int]] = {}
            at = storage_at + len(_STORAGE)
            while at < status_at:
                slot = match_slot(text, at, status_at)
                if slot is None:
                    raise JournalFormatError(f"unexpected slot text {text[at : at + 80]!r}")
                storage[int(slot[1])] = (int(slot[2]), int(slot[3]))
                at = slot.end() + 2  # past ", "
            address = bytes.fromhex(head[1])
            accounts[address] = JournalAccount(
                address,
                int(head[2]),
                int(head[3]),
                bytes.fromhex(head[4]),
                # Only a created contract's code is new; the rest is known by its hash.
                _code(text, code_at, storage_at) if "Created" in flags else None,
                storage,
                flags,
            )
            # ") }, " then the next account, or ") }}" at the end of the state.
            if starts("}", flags_end + 3):
                return Journal(accounts, text, flags_end + 3)
            pos = flags_end + 5
    except ValueError as exc:
        raise JournalFormatError(f"unexpected pyrevm journal text: {exc}") from None


__all__ = ["Journal", "JournalAccount", "JournalFormatError", "parse_journal"]
