"""Senders recovered in a worker process equal those recovered in place."""

from __future__ import annotations

import attrs
import pytest
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.senders import SenderRecovery
from supervm.chain.transactions import (
    Transaction,
    TransactionError,
    UnsignedTransaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)

ACCOUNTS = dev_accounts(4)


def _fresh(n: int) -> list[Transaction]:
    """Decoded transactions whose senders are forgotten again (decoding recovers them)."""
    txs = []
    for i in range(n):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        unsigned = UnsignedTransaction(
            type=2, chain_id=1, nonce=i, max_priority_fee_per_gas=1, max_fee_per_gas=2,
            gas=21_000, to=bytes(20), value=i,
        )  # fmt: skip
        tx = decode_transaction(encode_transaction(sign_transaction(unsigned, account.private_key)))
        tx.__dict__.pop("sender")
        txs.append(tx)
    return txs


@pytest.mark.parametrize("threshold", [1, 10_000])  # through the worker, and in place
def test_recovered_senders_are_the_signers(threshold: int) -> None:
    txs = _fresh(12)
    recovery = SenderRecovery(threshold=threshold)
    try:
        recovery.recover(txs)
    finally:
        recovery.close()
    assert [tx.__dict__["sender"] for tx in txs] == [
        ACCOUNTS[i % len(ACCOUNTS)].address for i in range(12)
    ]


def test_an_unrecoverable_signature_is_left_to_raise_its_error() -> None:
    good = _fresh(3)
    # No curve point has x = 5 (5**3 + 7 is no square mod p): no key recovers from r = 5.
    bad = attrs.evolve(good[1], r=5)
    txs = [good[0], bad, good[2]]
    recovery = SenderRecovery(threshold=1)
    try:
        recovery.recover(txs)
    finally:
        recovery.close()
    assert "sender" in txs[0].__dict__ and "sender" in txs[2].__dict__
    assert "sender" not in bad.__dict__
    with pytest.raises(TransactionError, match="invalid signature"):
        _ = bad.sender
