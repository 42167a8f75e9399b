"""Response objects the kernel's :mod:`supervm.tooling.convert` does not make: receipts, logs,
proofs, and the mixed-case addresses of ``txpool_content``.

Field for field the execution API's (https://github.com/ethereum/execution-apis): quantities are
minimal hex, data every byte, and a log's ``logIndex`` counts across its block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from supervm.chain.blocks import Block
from supervm.chain.receipts import Receipt
from supervm.chain.transactions import Transaction
from supervm.crypto import keccak256
from supervm.state.addresses import create_address
from supervm.tooling.convert import data, quantity


def effective_gas_price(tx: Transaction, base_fee: int | None) -> int:
    """What ``tx`` paid per gas in a block with ``base_fee``.

    Computed rather than taken from ``supervm.chain.transactions.effective_gas_price``, which
    refuses a cap below the base fee: a stored block was valid, and showing it must not fail.
    """
    if tx.gas_price is not None:  # legacy and EIP-2930; EIP-1559 and blob ones have fee caps
        return tx.gas_price
    assert tx.max_fee_per_gas is not None and tx.max_priority_fee_per_gas is not None
    return min(tx.max_fee_per_gas, (base_fee or 0) + tx.max_priority_fee_per_gas)


def block_logs(block: Block, receipts: Sequence[Receipt]) -> list[dict[str, Any]]:
    """Every log of ``block`` as ``eth_getLogs`` returns them, ``logIndex`` counted across the
    block."""
    header = block.header
    block_hash = data(header.hash)
    number = quantity(header.number)
    timestamp = quantity(header.timestamp)
    out: list[dict[str, Any]] = []
    for index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=False)):
        if not receipt.logs:
            continue
        tx_hash = data(tx.hash)
        tx_index = quantity(index)
        for log in receipt.logs:
            out.append(
                {
                    "address": data(log.address),
                    "topics": [data(t) for t in log.topics],
                    "data": data(log.data),
                    "blockNumber": number,
                    "blockHash": block_hash,
                    "blockTimestamp": timestamp,
                    "transactionHash": tx_hash,
                    "transactionIndex": tx_index,
                    "logIndex": quantity(len(out)),
                    "removed": False,
                }
            )
    return out


def receipt_to_json(block: Block, receipts: Sequence[Receipt], index: int) -> dict[str, Any]:
    """``eth_getTransactionReceipt``'s object for transaction ``index`` of ``block``.

    ``contractAddress`` is the address a creation made (or would have made, had it failed), as
    geth reports it, and ``null`` for a call.
    """
    header = block.header
    tx = block.transactions[index]
    receipt = receipts[index]
    previous = receipts[index - 1].cumulative_gas_used if index else 0
    first_log = sum(len(r.logs) for r in receipts[:index])
    sender = tx.sender
    block_hash = data(header.hash)
    number = quantity(header.number)
    tx_hash = data(tx.hash)
    tx_index = quantity(index)
    timestamp = quantity(header.timestamp)
    logs = [
        {
            "address": data(log.address),
            "topics": [data(t) for t in log.topics],
            "data": data(log.data),
            "blockNumber": number,
            "blockHash": block_hash,
            "blockTimestamp": timestamp,
            "transactionHash": tx_hash,
            "transactionIndex": tx_index,
            "logIndex": quantity(first_log + i),
            "removed": False,
        }
        for i, log in enumerate(receipt.logs)
    ]
    return {
        "type": quantity(tx.type),
        "transactionHash": tx_hash,
        "transactionIndex": tx_index,
        "blockHash": block_hash,
        "blockNumber": number,
        "from": data(sender),
        "to": None if tx.to is None else data(tx.to),
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "gasUsed": quantity(receipt.cumulative_gas_used - previous),
        "contractAddress": data(create_address(sender, tx.nonce)) if tx.to is None else None,
        "logs": logs,
        "logsBloom": data(receipt.logs_bloom),
        "status": quantity(receipt.status),
        "effectiveGasPrice": quantity(effective_gas_price(tx, header.base_fee_per_gas)),
    }


def checksum_address(address: bytes) -> str:
    """EIP-55 mixed-case hex, as geth keys ``txpool_content`` by it."""
    lower = address.hex()
    digest = keccak256(lower.encode()).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
    )
