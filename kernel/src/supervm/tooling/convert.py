"""Conversion of the data model to JSON-ready structures, for the edges (CLI, RPC, files).

One cattrs converter owned by the kernel: bytes become 0x-hex strings, enums their values. Blocks
and transactions take the shapes of Ethereum's JSON-RPC instead (``block_to_json``,
``transaction_to_json``), for the command line and the JSON-RPC server alike.
"""

from __future__ import annotations

from typing import Any

import cattrs

from supervm.chain.blocks import Block, BlockHeader, Withdrawal, encode_block
from supervm.chain.transactions import (
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    Transaction,
)
from supervm.model import ErrorKind, ExecutionError, ExecutionResult
from supervm.plugins.loading import PluginInfo


def make_converter() -> cattrs.Converter:
    """The kernel's converter: bytes as 0x-hex, errors as ``"kind: message"`` strings."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(bytes, lambda b: "0x" + b.hex())
    converter.register_structure_hook(bytes, lambda v, _t: bytes.fromhex(v.removeprefix("0x")))
    converter.register_unstructure_hook(ErrorKind, lambda k: k.value)
    converter.register_unstructure_hook(ExecutionError, str)
    converter.register_unstructure_hook(
        frozenset, lambda s: sorted(converter.unstructure(x) for x in s)
    )
    return converter


def result_to_json(
    result: ExecutionResult, converter: cattrs.Converter | None = None
) -> dict[str, Any]:
    """The ``supervm wasm run --json`` shape of a result.

    ``{"ok", "value", "return_data", "events", "logs", "gas_used", "error"}``: events are the
    0x-hex data of each event, logs are ``{"address", "topics", "data"}``.
    """
    c = converter or make_converter()
    return {
        "ok": result.ok,
        "value": result.value,
        "return_data": c.unstructure(result.return_data),
        "events": [c.unstructure(e.data) for e in result.events],
        "logs": [c.unstructure(log) for log in result.logs],
        "gas_used": result.gas_used,
        "error": None if result.error is None else str(result.error),
    }


def plugin_to_json(info: PluginInfo, converter: cattrs.Converter | None = None) -> dict[str, Any]:
    """The ``supervm plugins --json`` shape of one plugin."""
    c = converter or make_converter()
    data: dict[str, Any] = c.unstructure(info)
    data["hooks"] = list(info.hooks)
    return data


# --- chain objects, as Ethereum's execution API returns them -------------------------------------
#
# The shapes of eth_getBlockByNumber and eth_getTransactionByHash, field for field as the
# execution-apis schemas (and geth) give them: integers are quantities (minimal hex, "0x0" for
# zero), byte strings are data (every byte, "0x" when empty). Optional header fields appear only
# when the header has them, as geth leaves them out for blocks of earlier forks.


def quantity(value: int) -> str:
    """An integer as a JSON-RPC quantity: ``0x`` and minimal hex digits (``0x0`` for zero)."""
    return hex(value)


def data(value: bytes) -> str:
    """Bytes as JSON-RPC data: ``0x`` and two hex digits per byte."""
    return "0x" + value.hex()


def header_to_json(header: BlockHeader) -> dict[str, Any]:
    """The header fields of eth_getBlockByNumber's block object, ``hash`` included."""
    out: dict[str, Any] = {
        "number": quantity(header.number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "stateRoot": data(header.state_root),
        "transactionsRoot": data(header.transactions_root),
        "receiptsRoot": data(header.receipts_root),
        "logsBloom": data(header.logs_bloom),
        "miner": data(header.coinbase),
        "difficulty": quantity(header.difficulty),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "extraData": data(header.extra_data),
        "mixHash": data(header.mix_hash),
        "nonce": data(header.nonce),
    }
    if header.base_fee_per_gas is not None:
        out["baseFeePerGas"] = quantity(header.base_fee_per_gas)
    if header.withdrawals_root is not None:
        out["withdrawalsRoot"] = data(header.withdrawals_root)
    if header.blob_gas_used is not None:
        out["blobGasUsed"] = quantity(header.blob_gas_used)
    if header.excess_blob_gas is not None:
        out["excessBlobGas"] = quantity(header.excess_blob_gas)
    if header.parent_beacon_block_root is not None:
        out["parentBeaconBlockRoot"] = data(header.parent_beacon_block_root)
    out["sha3Uncles"] = data(header.ommers_hash)
    return out


def withdrawal_to_json(withdrawal: Withdrawal) -> dict[str, Any]:
    """A withdrawal object: ``{"index", "validatorIndex", "address", "amount"}`` (gwei)."""
    return {
        "index": quantity(withdrawal.index),
        "validatorIndex": quantity(withdrawal.validator_index),
        "address": data(withdrawal.address),
        "amount": quantity(withdrawal.amount),
    }


def block_to_json(block: Block, full_transactions: bool) -> dict[str, Any]:
    """eth_getBlockByNumber's block object.

    :param full_transactions: the RPC's second parameter: transaction objects (with their
        block and index) instead of hashes.
    """
    out = header_to_json(block.header)
    out["size"] = quantity(len(encode_block(block)))
    out["transactions"] = [
        transaction_to_json(tx, block, index) if full_transactions else data(tx.hash)
        for index, tx in enumerate(block.transactions)
    ]
    out["uncles"] = [data(ommer.hash) for ommer in block.ommers]
    if block.withdrawals is not None:
        out["withdrawals"] = [withdrawal_to_json(w) for w in block.withdrawals]
    return out


def _gas_price(tx: Transaction, block: Block | None) -> int:
    """The ``gasPrice`` field: what the sender pays per gas.

    An EIP-1559 transaction's price depends on the block's base fee; outside a block the spec
    says to show its fee cap. Computed here rather than with ``effective_gas_price``, which
    refuses a cap below the base fee: a block the node holds was valid, and showing it must not
    fail.
    """
    if tx.type not in (DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE):
        assert tx.gas_price is not None  # every other type has one
        return tx.gas_price
    assert tx.max_fee_per_gas is not None and tx.max_priority_fee_per_gas is not None
    if block is None:
        return tx.max_fee_per_gas
    base_fee = block.header.base_fee_per_gas or 0
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def transaction_to_json(
    tx: Transaction, block: Block | None = None, index: int | None = None
) -> dict[str, Any]:
    """eth_getTransactionByHash's transaction object.

    Outside a block (a decoded raw transaction, a pending one) ``blockHash``, ``blockNumber``,
    ``blockTimestamp`` and ``transactionIndex`` are ``null``, as the RPC gives them. Legacy
    transactions have ``chainId`` only with EIP-155 replay protection, and ``v`` but no
    ``yParity``; typed ones have both (``v`` is the deprecated alias of ``yParity``), an
    ``accessList``, and for EIP-1559 the two fee caps beside the effective ``gasPrice``.

    :param block: the block holding ``tx``.
    :param index: ``tx``'s position in ``block``.
    """
    out: dict[str, Any] = {"type": quantity(tx.type)}
    if tx.chain_id is not None:
        out["chainId"] = quantity(tx.chain_id)
    out["nonce"] = quantity(tx.nonce)
    out["gas"] = quantity(tx.gas)
    out["gasPrice"] = quantity(_gas_price(tx, block))
    if tx.type in (DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE):
        assert tx.max_fee_per_gas is not None and tx.max_priority_fee_per_gas is not None
        out["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
    if tx.type == BLOB_TX_TYPE:
        assert tx.max_fee_per_blob_gas is not None
        out["maxFeePerBlobGas"] = quantity(tx.max_fee_per_blob_gas)
        out["blobVersionedHashes"] = [data(h) for h in tx.blob_versioned_hashes]
    out["to"] = None if tx.to is None else data(tx.to)
    out["value"] = quantity(tx.value)
    out["input"] = data(tx.data)
    if tx.type != LEGACY_TX_TYPE:
        out["accessList"] = [
            {"address": data(address), "storageKeys": [data(key) for key in keys]}
            for address, keys in tx.access_list
        ]
    out["v"] = quantity(tx.v)
    out["r"] = quantity(tx.r)
    out["s"] = quantity(tx.s)
    if tx.type != LEGACY_TX_TYPE:
        out["yParity"] = quantity(tx.y_parity)
    out["hash"] = data(tx.hash)
    out["from"] = data(tx.sender)
    header = block.header if block is not None else None
    out["blockHash"] = None if header is None else data(header.hash)
    out["blockNumber"] = None if header is None else quantity(header.number)
    out["blockTimestamp"] = None if header is None else quantity(header.timestamp)
    out["transactionIndex"] = None if index is None else quantity(index)
    return out
