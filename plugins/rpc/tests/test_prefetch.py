"""Senders recovered ahead of a batch, in a worker process."""

from __future__ import annotations

import asyncio

from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    UnsignedTransaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from supervm_rpc.prefetch import SenderPrefetch, raw_transactions

ACCOUNTS = dev_accounts(4)


def raw(index: int, nonce: int = 0) -> str:
    tx = sign_transaction(
        UnsignedTransaction(
            type=DYNAMIC_FEE_TX_TYPE,
            chain_id=31337,
            nonce=nonce,
            max_priority_fee_per_gas=1,
            max_fee_per_gas=10**10,
            gas=21_000,
            to=bytes(20),
        ),
        ACCOUNTS[index].private_key,
    )
    return "0x" + encode_transaction(tx).hex()


def test_only_well_formed_raw_transaction_calls_are_taken() -> None:
    good = raw(0)
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [good]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction", "params": ["ab"]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_sendRawTransaction", "params": [good, 1]},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_chainId", "params": [good]},
        "garbage",
    ]
    assert raw_transactions(calls) == [good]


def test_the_worker_recovers_each_encodings_own_sender() -> None:
    encodings = [raw(i % 4, i) for i in range(12)]
    garbage = "0x02deadbeef"
    tampered = encodings[0][:-4] + ("00" if encodings[0][-4:-2] != "00" else "11") + "00"
    prefetch = SenderPrefetch()
    try:
        found = asyncio.run(prefetch.senders([*encodings, garbage, tampered]))
    finally:
        prefetch.close()
    assert garbage not in found
    for i, text in enumerate(encodings):
        assert found[text] == ACCOUNTS[i % 4].address
        tx = decode_transaction(bytes.fromhex(text[2:]), sender=found[text])
        assert tx.sender == ACCOUNTS[i % 4].address
    if tampered in found:  # a changed s may still recover a key: then someone else's
        assert found[tampered] != ACCOUNTS[0].address
