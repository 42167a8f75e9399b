"""Recovering a block's senders in parallel: a worker process takes half of them.

Recovering a sender costs about 50 µs of libsecp256k1 through coincurve, which holds the GIL
(two threads measured 53 µs a transaction against 52 on one), so threads gain nothing; one
worker process and the calling process, each recovering half of a block, measured 25 µs a
transaction against 50. Only the signing digest and the signature travel to the worker, and
the addresses come back. The pool is started on first use (a forkserver, safe next to threads)
and kept for the life of the chain: starting it costs far more than one block saves.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from supervm.chain.transactions import (
    Transaction,
    TransactionError,
    _recover_sender,
    decode_transaction,
)

#: Below this many transactions a block's senders are recovered in the calling process.
PARALLEL_THRESHOLD = 256

_Signature = tuple[bytes, int, int, int]


def _recover_many(signatures: Sequence[_Signature]) -> list[bytes | None]:
    """The senders of ``signatures``; ``None`` where a signature recovers no key."""
    senders: list[bytes | None] = []
    for digest, y_parity, r, s in signatures:
        try:
            senders.append(_recover_sender(digest, y_parity, r, s))
        except TransactionError:
            senders.append(None)
    return senders


def recover_encoded(encodings: Sequence[str]) -> list[bytes | None]:
    """The senders of transactions given as ``0x``-hex network encodings (as
    ``eth_sendRawTransaction`` receives them), for a worker process to recover ahead of the
    caller's own decoding; ``None`` where one does not decode or recovers no sender (the caller's
    decoding then says why).
    """
    senders: list[bytes | None] = []
    for text in encodings:
        try:
            senders.append(decode_transaction(bytes.fromhex(text[2:])).sender)
        except (TransactionError, ValueError):
            senders.append(None)
    return senders


class SenderRecovery:
    """Recovers transactions' senders, sharing big batches with one worker process."""

    def __init__(self, *, threshold: int = PARALLEL_THRESHOLD) -> None:
        self.threshold = threshold
        self._pool: ProcessPoolExecutor | None = None

    def recover(self, transactions: Sequence[Transaction]) -> None:
        """Recover and cache the sender of every transaction not recovered yet.

        A transaction whose signature recovers no key is left unrecovered: reading its
        ``sender`` then raises the :class:`TransactionError` that names the problem.
        """
        pending = [tx for tx in transactions if "sender" not in tx.__dict__]
        if len(pending) < self.threshold:
            for tx in pending:
                _cache(tx, _recover_many([_signature(tx)])[0])
            return
        half = len(pending) // 2
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(1, mp_context=context)
        shipped = self._pool.submit(_recover_many, [_signature(tx) for tx in pending[:half]])
        local = _recover_many([_signature(tx) for tx in pending[half:]])
        for tx, sender in zip(pending, shipped.result() + local, strict=True):
            _cache(tx, sender)

    def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _signature(tx: Transaction) -> _Signature:
    return (tx._signing_digest, tx.y_parity, tx.r, tx.s)


def _cache(tx: Transaction, sender: bytes | None) -> None:
    if sender is not None:
        tx.__dict__["sender"] = sender  # what the cached ``sender`` property reads
