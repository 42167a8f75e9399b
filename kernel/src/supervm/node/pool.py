"""What a transaction pool plugin provides to the rest of a node.

The kernel has no pool of its own: a plugin (``mempool``) registers a service that stores an
object with this interface under :data:`supervm.node.keys.POOL`. The JSON-RPC server submits
transactions to it, the block producer takes the next block's transactions from it and tells it
which were included, and the metrics exporter reads its sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from supervm.chain.blocks import Block
from supervm.chain.transactions import Transaction
from supervm.errors import SuperVMError
from supervm.state.world import WorldState


class PoolRejected(SuperVMError):
    """The pool refused a transaction; ``reason`` is the message clients see.

    :param reason: geth's wording where it has one (``nonce too low``, ``replacement
        transaction underpriced``, ``insufficient funds for gas * price + value``): Ethereum
        tools match on it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class TransactionPoolService(Protocol):
    """A node's transaction pool, as the other services use it.

    Every method is called from the event loop's thread.
    """

    def submit(self, tx: Transaction, *, local: bool = True) -> bytes:
        """Add a signed transaction (its sender already recovered); return its hash.

        :param local: submitted to this node (JSON-RPC) rather than received from a peer.
        :raises PoolRejected: with the reason a client is told.
        """
        ...

    def remove(self, tx_hash: bytes) -> Transaction | None:
        """Drop a transaction (one a block refused); return it, or ``None`` if not pooled."""
        ...

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pooled transaction with this hash, if the pool holds it."""
        ...

    def pending_nonce(self, sender: bytes) -> int:
        """The nonce ``sender``'s next transaction needs: the state's, past its pending run."""
        ...

    def pending(self, base_fee: int) -> list[Transaction]:
        """The executable transactions in block order (by effective tip, each sender's nonces
        in order) for a block with ``base_fee``."""
        ...

    def content(self) -> tuple[dict[bytes, list[Transaction]], dict[bytes, list[Transaction]]]:
        """The pending and the queued transactions by sender, each in nonce order."""
        ...

    def stats(self) -> tuple[int, int]:
        """How many transactions are pending and how many are queued."""
        ...

    def block_added(self, block: Block, state: WorldState) -> Sequence[Transaction]:
        """Drop what ``block`` included or made invalid, and promote what became executable;
        return the transactions dropped as no longer valid (not those included)."""
        ...
