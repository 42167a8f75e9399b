"""Parsing pyrevm 0.3.7's journal text (revm 8's ``JournaledState`` printed with ``Debug``):
real runs of hand-assembled code, each checked against what the code must have done."""

from __future__ import annotations

import pytest
from pyrevm import EVM, AccountInfo
from supervm.crypto import keccak256
from supervm_evm_revm_bridge.evm_version import REVM_SPEC_ID
from supervm_evm_revm_bridge.revm_journal import JournalFormatError, parse_journal

CALLER = "0x" + "aa" * 20
TARGET = "0x" + "cc" * 20
CALLEE = "0x" + "dd" * 20
BIG = 2**255 + 12345  # a slot key and value printed with 78 digits


def _evm(code: bytes, *, callee_code: bytes = b"") -> EVM:
    evm = EVM(spec_id=REVM_SPEC_ID)
    evm.insert_account_info(CALLER, AccountInfo(balance=10**18, nonce=3))  # type: ignore[call-arg]
    evm.insert_account_info(TARGET, AccountInfo(balance=7, nonce=1, code=code))  # type: ignore[call-arg]
    if callee_code:
        evm.insert_account_info(CALLEE, AccountInfo(balance=0, nonce=1, code=callee_code))  # type: ignore[call-arg]
    evm.insert_account_storage(TARGET, 5, 99)
    return evm


def _push32(value: int) -> str:
    return "7f" + value.to_bytes(32, "big").hex()


def test_storage_reads_and_writes_with_their_original_values() -> None:
    # SSTORE(5, SLOAD(5) + 1); SSTORE(BIG, BIG); SLOAD(6) (read only); STOP
    code = bytes.fromhex(
        "600554600101600555" + _push32(BIG) + _push32(BIG) + "55" + "60065450" + "00"
    )
    evm = _evm(code)
    evm.message_call(CALLER, TARGET, b"", value=2, gas=200_000)
    journal = parse_journal(evm.journal_str)
    target = journal.accounts[bytes.fromhex("cc" * 20)]
    assert target.storage == {5: (99, 100), BIG: (0, BIG), 6: (0, 0)}
    assert (target.balance, target.nonce, target.touched, target.created) == (9, 1, True, False)
    assert target.code_hash == keccak256(code) and target.code is None
    caller = journal.accounts[bytes.fromhex("aa" * 20)]
    assert (caller.balance, caller.nonce, caller.storage) == (10**18 - 2, 3, {})
    assert journal.callees == frozenset({bytes.fromhex("cc" * 20)})


def test_a_create_reports_the_new_code_and_calls_report_their_targets() -> None:
    runtime = bytes.fromhex("602a60005260206000f3")  # returns 42
    # init code: copy the runtime to memory and return it
    init = bytes.fromhex("69" + runtime.hex() + "600052600a6016f3")  # PUSH10, MSTORE, RETURN
    # CREATE(0, 21, len(init)) after MSTORE of init at 0 (right-aligned in a word), then
    # CALL(gas, CALLEE, 0, 0, 0, 0, 0)
    code = bytes.fromhex(
        "7f" + init.rjust(32, b"\0").hex() + "600052"  # MSTORE(0, init as a word)
        + f"60{len(init):02x}" + f"60{32 - len(init):02x}" + "6000" + "f0" + "50"  # CREATE, POP
        + "6000600060006000600073" + "dd" * 20 + "5af1" + "50" + "00"  # CALL, POP, STOP
    )  # fmt: skip
    evm = _evm(code, callee_code=bytes.fromhex("00"))
    evm.message_call(CALLER, TARGET, b"", gas=500_000)
    journal = parse_journal(evm.journal_str)
    (created,) = [a for a in journal.accounts.values() if a.created]
    assert created.code == runtime and created.nonce == 1
    assert created.code_hash == keccak256(runtime)
    assert journal.accounts[bytes.fromhex("cc" * 20)].nonce == 2  # CREATE bumped it
    assert bytes.fromhex("dd" * 20) in journal.callees


def test_an_empty_journal_and_text_in_another_format() -> None:
    evm = EVM(spec_id=REVM_SPEC_ID)
    assert parse_journal(evm.journal_str).accounts == {}
    with pytest.raises(JournalFormatError):
        parse_journal("State { accounts: {} }")
    text = _journal_of_one_call()
    with pytest.raises(JournalFormatError):
        parse_journal(text.replace(": Account { info: AccountInfo { balance: ", ": Acct { "))
    with pytest.raises(JournalFormatError):
        parse_journal(text.replace("present_value", "current_value"))


def _journal_of_one_call() -> str:
    evm = _evm(bytes.fromhex("600554600101600555"))
    evm.message_call(CALLER, TARGET, b"", gas=100_000)
    text: str = evm.journal_str
    assert "present_value" in text
    return text
