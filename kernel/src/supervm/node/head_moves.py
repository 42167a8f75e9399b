"""What follows a move of the node's head, whoever moved it: the producer sealing a block, or
the network plugin importing one (a reorg included).

Both paths must tell the pool and the chain's listeners the same things in the same order,
or a transaction a reorg took off the chain is lost on one path and not the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from supervm.chain.forks import ChainBlock
from supervm.errors import SuperVMError
from supervm.node.access import NodeChain
from supervm.node.events import ChainEvents, NewBlock
from supervm.node.pool import TransactionPoolService


def follow_head_change(
    added: Sequence[ChainBlock],
    removed: Sequence[ChainBlock],
    *,
    node: NodeChain | None,
    pool: TransactionPoolService | None,
    events: ChainEvents,
) -> None:
    """Tell the pool and the chain's listeners that the head moved, from the event loop's
    thread.

    The pool drops what the new blocks include and takes back, as remote transactions, those
    of blocks a reorg removed that the new branch does not hold (geth does the same); the
    listeners hear of every block now canonical, lowest first, so ``newHeads`` subscribers
    see the new branch, and the first of them carries the blocks the reorg removed (highest
    first, with their receipts), so log subscribers see those logs removed first.

    :param added: the blocks now canonical, lowest first (the new head last).
    :param removed: the blocks a reorg took off the canonical chain, lowest first (empty
        when the head only grew).
    :param node: the node's chain, for the pool's view of the new state (only read when
        ``pool`` is given).
    :param pool: the transaction pool, if the node runs one.
    :param events: where the node's listeners hear of new blocks.
    """
    if pool is not None and node is not None:
        state = node.state()
        for item in added:
            pool.block_added(item.block, state)
        included = {tx.hash for item in added for tx in item.block.transactions}
        for item in removed:
            for tx in item.block.transactions:
                if tx.hash in included:
                    continue
                # Refused: no longer valid on the new branch (its nonce was used there).
                with contextlib.suppress(SuperVMError):
                    pool.submit(tx, local=False)
    gone = tuple(NewBlock(item.block, item.receipts) for item in reversed(removed))
    for index, item in enumerate(added):
        events.publish_block(NewBlock(item.block, item.receipts, gone if index == 0 else ()))
