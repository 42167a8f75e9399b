"""Ethereum's official BlockchainTests (Cancun): block and header encodings, hashes and roots.

Every file in ``<repo>/../shared/conformance/ethereum-tests/BlockchainTests`` is one case. For
each test in it:

- the genesis block (``genesisRLP``) decodes, hashes to ``genesisBlockHeader.hash`` and
  re-encodes to the same bytes;
- a valid block (one with ``blockHeader``) decodes with every sender recovered, its hash is
  ``blockHeader.hash``, the transactions root recomputed from the decoded transactions is
  ``blockHeader.transactionsTrie``, the senders are the expected ones, the body matches the
  header and re-encoding gives the same bytes. Where the block has no logs (a zero bloom) its
  one receipt is known but for the status, so the receipts root must be that of one of the two
  possible receipts. Blob transactions (EIP-4844) decode with their blob fields;
- a block with ``expectException`` either decodes (the exception is about state, which decoding
  does not see) or raises :class:`BlockError` or :class:`TransactionError`, never anything else.

The whole suite runs in a few seconds, so nothing is sampled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from supervm.chain import (
    EMPTY_BLOOM,
    BlockError,
    Receipt,
    TransactionError,
    check_body,
    decode_block,
    encode_block,
    receipts_root,
    transactions_root,
)

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO.parent / "shared" / "conformance" / "ethereum-tests" / "BlockchainTests"

#: The suite's transactions are signed for mainnet.
CHAIN_ID = 1
BLOB_TX_TYPE = 3


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def _cases() -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SUITE} is missing"))]
    return [
        pytest.param(path, id=str(path.relative_to(SUITE)))
        for path in sorted(SUITE.rglob("*.json"))
    ]


def _check_genesis(name: str, test: dict[str, Any]) -> None:
    if "genesisRLP" not in test:
        return
    raw = _bytes(test["genesisRLP"])
    block = decode_block(raw, chain_id=CHAIN_ID)
    assert "0x" + block.hash.hex() == test["genesisBlockHeader"]["hash"], name
    assert encode_block(block) == raw, name


def _check_valid_block(name: str, raw: bytes, entry: dict[str, Any]) -> None:
    expected = entry["blockHeader"]
    block = decode_block(raw, chain_id=CHAIN_ID)
    assert "0x" + block.hash.hex() == expected["hash"], name
    assert "0x" + transactions_root(block.transactions).hex() == expected["transactionsTrie"]
    assert encode_block(block) == raw, name
    check_body(block)
    senders = ["0x" + tx.sender.hex() for tx in block.transactions]
    assert senders == [tx["sender"] for tx in entry["transactions"]], name
    for tx, fields in zip(block.transactions, entry["transactions"], strict=True):
        if tx.type == BLOB_TX_TYPE:  # EIP-4844's fields, decoded
            assert tx.max_fee_per_blob_gas == int(fields["maxFeePerBlobGas"], 16), name
            assert ["0x" + h.hex() for h in tx.blob_versioned_hashes] == fields[
                "blobVersionedHashes"
            ], name
    header = block.header
    if header.logs_bloom == EMPTY_BLOOM and len(block.transactions) == 1:
        tx_type = block.transactions[0].type
        candidates = {
            receipts_root(
                [Receipt(tx_type=tx_type, status=status, cumulative_gas_used=header.gas_used)]
            )
            for status in (0, 1)
        }
        assert header.receipts_root in candidates, name
    # A second decode without recovery gives the same block, and the senders on demand.
    lazy = decode_block(raw, recover=False)
    assert lazy == block
    assert [tx.sender for tx in lazy.transactions] == [tx.sender for tx in block.transactions]


@pytest.mark.parametrize("path", _cases())
def test_blockchain_file(path: Path) -> None:
    for name, test in json.loads(path.read_text()).items():
        _check_genesis(name, test)
        for entry in test["blocks"]:
            raw = _bytes(entry["rlp"])
            if "blockHeader" in entry:
                _check_valid_block(name, raw, entry)
                continue
            try:
                block = decode_block(raw, chain_id=CHAIN_ID)
            except (BlockError, TransactionError):
                continue
            assert encode_block(block) == raw, name
