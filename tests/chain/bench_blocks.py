"""Cost of block and receipt encoding, decoding, roots and blooms (a measurement script).

    .venv/bin/python tests/chain/bench_blocks.py [--transfers N]

A block of N EIP-1559 transfers from distinct senders, each with one ERC20 Transfer log in its
receipt (the token's address, the Transfer topic and two padded addresses). Reported: best of
several runs of wall time, because the machine is shared. ``decode_block(recover=False)`` is
what an importer runs before recovering senders in parallel; ``decode_block()`` recovers them in
this process. The bloom is compared with the ``eth-bloom`` package's.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import attrs
from eth_bloom import BloomFilter
from supervm.chain import (
    EMPTY_TRIE_ROOT,
    Block,
    BlockHeader,
    Receipt,
    Transaction,
    UnsignedTransaction,
    decode_block,
    decode_receipt,
    encode_block,
    encode_receipt,
    encode_transaction,
    logs_bloom,
    receipts_root,
    sign_transaction,
    transactions_root,
)
from supervm.chain.receipts import _item_bits
from supervm.crypto import keccak256
from supervm.model import Log

TOKEN = b"\xee" * 20
TRANSFER = keccak256(b"Transfer(address,address,uint256)")


def best(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def transfers(n: int) -> list[Transaction]:
    txs = []
    for i in range(n):
        unsigned = UnsignedTransaction(
            type=2,
            chain_id=1,
            nonce=0,
            max_priority_fee_per_gas=10**9,
            max_fee_per_gas=3 * 10**10,
            gas=21_000,
            to=(i + 1).to_bytes(20, "big"),
            value=10**15,
        )
        txs.append(sign_transaction(unsigned, (i + 1).to_bytes(32, "big")))
    return txs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=10_000)
    n = parser.parse_args().transfers

    txs = transfers(n)
    # Copies without the cached hash, sender and encoding.
    fresh = [attrs.evolve(tx) for tx in txs]
    logs = [
        Log(TOKEN, (TRANSFER, bytes(12) + tx.sender, bytes(12) + (tx.to or b"")), bytes(32))
        for tx in txs
    ]
    receipts = [
        Receipt(tx_type=2, status=1, cumulative_gas_used=21_000 * (i + 1), logs=(log,))
        for i, log in enumerate(logs)
    ]
    header = BlockHeader(
        parent_hash=bytes(32),
        coinbase=TOKEN,
        state_root=bytes(32),
        transactions_root=transactions_root(txs),
        receipts_root=receipts_root(receipts),
        number=1,
        gas_limit=30_000_000,
        gas_used=21_000 * n,
        timestamp=1,
        base_fee_per_gas=7,
        withdrawals_root=EMPTY_TRIE_ROOT,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=bytes(32),
    )
    block = Block(header, tuple(txs), (), ())
    raw = encode_block(block)
    print(f"block of {n} transfers: {len(raw):,} bytes")

    def report(label: str, seconds: float, per: int = n) -> None:
        print(f"  {label:<44} {seconds * 1e3:9.1f} ms  {seconds / per * 1e6:7.2f} µs each")

    report("encode_transaction (no cache)", best(lambda: [encode_transaction(tx) for tx in txs]))
    # A block made of transactions that were never encoded (the builder's first encoding).
    fresh_block = Block(header, tuple(fresh), (), ())
    report("encode_block, transactions not yet encoded", best(lambda: encode_block(fresh_block), 1))
    report("encode_block, encodings cached", best(lambda: encode_block(block)))
    report("decode_block(recover=False)", best(lambda: decode_block(raw, recover=False)))
    report("decode_block() (recovers every sender)", best(lambda: decode_block(raw), 1))
    decoded = decode_block(raw, recover=False)
    report(
        "transactions_root (encodings cached)",
        best(lambda: transactions_root(decoded.transactions)),
    )
    report("receipts_root", best(lambda: receipts_root(receipts)))
    encoded = [encode_receipt(r) for r in receipts]
    report("encode_receipt", best(lambda: [encode_receipt(r) for r in receipts]))
    report("decode_receipt", best(lambda: [decode_receipt(r) for r in encoded]))

    print(f"bloom of one Transfer log (4 items), per log, over {n} logs:")

    def ours_cold() -> None:
        for log in logs:
            _item_bits.cache_clear()
            logs_bloom((log,))

    def ours_warm() -> None:
        _item_bits.cache_clear()
        for log in logs:
            logs_bloom((log,))

    def eth_bloom() -> None:
        for log in logs:
            bloom = BloomFilter()
            bloom.add(log.address)
            for topic in log.topics:
                bloom.add(topic)
            int(bloom).to_bytes(256, "big")

    report("logs_bloom, no cache hits", best(ours_cold))
    report("logs_bloom, cache as in a block (2 of 4 hit)", best(ours_warm))
    report("eth-bloom BloomFilter", best(eth_bloom))
    for log in logs[:100]:
        reference = BloomFilter.from_iterable([log.address, *log.topics])
        assert logs_bloom((log,)) == int(reference).to_bytes(256, "big")


if __name__ == "__main__":
    main()
