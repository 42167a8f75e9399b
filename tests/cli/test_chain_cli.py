"""``supervm chain init|head|block|export|import`` and ``supervm tx decode``.

These run the real command line on LMDB (the storage_lmdb plugin) with WASM contracts (the
wasm_wasmtime plugin): a chain of a few blocks is built once with :class:`Chain`, then read,
exported and imported into fresh data directories through the commands.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from eth_account import Account
from eth_utils.address import to_checksum_address
from supervm import Kernel
from supervm.chain.blocks import Block, decode_block, encode_block
from supervm.chain.chain import Chain
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import dev_genesis
from supervm.chain.rlp_reader import read_header
from supervm.chain.store import ChainStore
from supervm.chain.transactions import (
    Transaction,
    UnsignedTransaction,
    encode_transaction,
    sign_transaction,
)
from supervm.cli.main import cli, main
from supervm.cli.state import KernelState
from supervm.errors import SuperVMError
from supervm.execution.wasm_binary import with_end_marker
from supervm.state.addresses import create_address
from supervm.state.storage import StorageSettings
from supervm.state.world import WorldState
from supervm.tooling.convert import block_to_json, transaction_to_json

pytest.importorskip("supervm_storage_lmdb")
wasmtime = pytest.importorskip("wasmtime")
pytest.importorskip("supervm_wasm_wasmtime")

ROOT = Path(__file__).resolve().parents[2]
DEV_GENESIS = ROOT / "examples" / "genesis" / "dev.json"
CHAIN_ID = 31337
ACCOUNTS = dev_accounts()
GWEI = 10**9

# `deploy` keeps its constructor arguments under "init"; `call` keeps its call data under
# "last" and logs it with one zero topic. Both write storage, so every block changes the root.
CONTRACT_WAT = r"""
(module
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "init")
  (data (i32.const 8) "last")
  (func (export "deploy")
    (call $read_input (i32.const 1024))
    (drop (call $set (i32.const 0) (i32.const 4) (i32.const 1024) (call $input_len))))
  (func (export "call")
    (call $read_input (i32.const 1024))
    (drop (call $set (i32.const 8) (i32.const 4) (i32.const 1024) (call $input_len)))
    (drop (call $log (i32.const 64) (i32.const 1) (i32.const 1024) (call $input_len)))))
"""
CONTRACT = create_address(ACCOUNTS[0].address, 0)

QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
BLOCK_FIELDS = {
    "number", "hash", "parentHash", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "miner", "difficulty", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "sha3Uncles", "size", "transactions", "uncles", "withdrawals",
}  # fmt: skip
TX_CONTEXT_FIELDS = {"hash", "from", "blockHash", "blockNumber", "blockTimestamp",
                     "transactionIndex"}  # fmt: skip
LEGACY_FIELDS = {"type", "chainId", "nonce", "gas", "gasPrice", "to", "value", "input", "v", "r",
                 "s"} | TX_CONTEXT_FIELDS  # fmt: skip
ACCESS_LIST_FIELDS = LEGACY_FIELDS | {"accessList", "yParity"}
DYNAMIC_FEE_FIELDS = ACCESS_LIST_FIELDS | {"maxFeePerGas", "maxPriorityFeePerGas"}


def h(data: bytes) -> str:
    return "0x" + data.hex()


# -- running the commands ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    kernel = Kernel.from_plugins()
    yield kernel
    kernel.close()


def invoke(kernel: Kernel, *args: str | Path) -> Result:
    """Run a command that must succeed; stdout and stderr are apart in the result."""
    result = CliRunner().invoke(
        cli, [str(a) for a in args], obj=KernelState((), False, kernel), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


def fails(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    """Run a command through the console entry point that must fail; its error line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    # Import reports how far it got on stderr first; the error is always the last line.
    error = captured.err.strip().splitlines()[-1]
    assert error.startswith("error: "), captured.err
    return error


def lines(text: str) -> dict[str, str]:
    """``key: value`` lines as a mapping."""
    return dict(line.split(": ", 1) for line in text.strip().splitlines() if ": " in line)


def storage_snapshot(kernel: Kernel, data_dir: Path) -> list[tuple[bytes, bytes]]:
    """Every key and value of the chain's storage."""
    with kernel.open_storage("lmdb", StorageSettings(data_dir=data_dir / "chain")) as storage:
        return list(storage.iterate())


def read_store(kernel: Kernel, data_dir: Path) -> tuple[Block, list[Block]]:
    """The head block and every block, from the chain in ``data_dir``."""
    with kernel.open_storage("lmdb", StorageSettings(data_dir=data_dir / "chain")) as storage:
        store = ChainStore(storage)
        head = store.head()
        assert head is not None
        blocks = [store.block_by_number(n) for n in range(head.number + 1)]
    assert all(b is not None for b in blocks)
    return blocks[-1], blocks  # type: ignore[return-value]


def export_blocks(path: Path) -> list[bytes]:
    """The blocks' RLP in an export file."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    out = []
    pos = 0
    while pos < len(data):
        _is_list, _start, stop = read_header(data, pos, len(data), "a block", SuperVMError)
        out.append(data[pos:stop])
        pos = stop
    return out


# -- the chain every test reads ------------------------------------------------------------------


def signed(index: int, **fields: Any) -> Transaction:
    fields.setdefault("chain_id", CHAIN_ID)
    fields.setdefault("value", 0)
    if fields.get("type", 2) == 2:
        fields.setdefault("max_priority_fee_per_gas", 2 * GWEI)
        fields.setdefault("max_fee_per_gas", 50 * GWEI)
    return sign_transaction(
        UnsignedTransaction(**{"type": 2, **fields}), ACCOUNTS[index].private_key
    )


def build_blocks(chain: Chain) -> None:
    """Three blocks: a WASM deployment and a legacy transfer; two calls, one with an access
    list (EIP-2930); a call that fails and one that succeeds."""
    module = bytes(wasmtime.wat2wasm(CONTRACT_WAT))
    recipient = ACCOUNTS[5].address
    batches = [
        [
            signed(0, nonce=0, gas=2_000_000, to=None, data=with_end_marker(module) + b"hello"),
            signed(1, type=0, nonce=0, gas_price=10 * GWEI, gas=21_000, to=recipient, value=7),
        ],
        [
            signed(0, nonce=1, gas=200_000, to=CONTRACT, data=b"world"),
            signed(
                2,
                type=1,
                nonce=0,
                gas_price=10 * GWEI,
                gas=200_000,
                to=CONTRACT,
                data=b"access",
                access_list=((CONTRACT, (bytes(32), b"\x01" * 32)),),
            ),
        ],
        [
            # Too little gas to finish: included, status 0, nothing written.
            signed(3, nonce=0, gas=21_500, to=CONTRACT, data=b"x"),
            signed(3, nonce=1, gas=200_000, to=CONTRACT, data=b"again", value=3),
        ],
    ]
    for number, batch in enumerate(batches, start=1):
        built = chain.build_block(batch, timestamp=1_700_000_000 + 12 * number)
        assert not built.executed.rejected, built.executed.rejected
        assert len(built.block.transactions) == len(batch)
    assert [r.status for r in built.receipts] == [0, 1]
    world = WorldState(chain.storage)
    assert world.storage(CONTRACT, b"init") == b"hello"
    assert world.storage(CONTRACT, b"last") == b"again"


@pytest.fixture(scope="module")
def built(kernel: Kernel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose chain has three blocks of WASM calls (read it, never change it)."""
    data_dir = tmp_path_factory.mktemp("built")
    invoke(kernel, "chain", "init", "--genesis", DEV_GENESIS, "--data-dir", data_dir)
    with kernel.open_storage("lmdb", StorageSettings(data_dir=data_dir / "chain")) as storage:
        chain = Chain(kernel, storage)
        try:
            build_blocks(chain)
        finally:
            chain.close()
    return data_dir


@pytest.fixture(scope="module")
def exported(kernel: Kernel, built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "chain.rlp"
    invoke(kernel, "chain", "export", path, "--data-dir", built)
    return path


def fresh(kernel: Kernel, tmp_path: Path, name: str = "fresh") -> Path:
    """A data directory with only the dev genesis."""
    data_dir = tmp_path / name
    invoke(kernel, "chain", "init", "--genesis", DEV_GENESIS, "--data-dir", data_dir)
    return data_dir


# -- init ------------------------------------------------------------------------------------------


def test_the_example_genesis_funds_the_dev_accounts() -> None:
    genesis = json.loads(DEV_GENESIS.read_text())
    assert genesis == dev_genesis(tuple(a.address for a in ACCOUNTS))
    assert len(genesis["alloc"]) == 10


def test_init_prints_the_genesis_and_keeps_the_chain_apart(
    kernel: Kernel, _cli_data_dir: Path
) -> None:
    result = invoke(kernel, "chain", "init", "--genesis", DEV_GENESIS)  # $SUPERVM_DATA_DIR
    out = result.stdout.strip().splitlines()
    assert out[0] == f"created a chain in {_cli_data_dir / 'chain'}"
    head, _blocks = read_store(kernel, _cli_data_dir)
    assert lines(result.stdout) == {
        "genesis hash": h(head.hash),
        "state root": h(head.header.state_root),
        "chain id": "31337",
    }
    assert head.number == 0
    # The chain's LMDB never mixes with the `wasm` commands' (DIR/lmdb).
    assert sorted(p.name for p in _cli_data_dir.iterdir()) == ["chain"]


def test_a_second_init_is_refused_and_changes_nothing(
    kernel: Kernel, built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = storage_snapshot(kernel, built)
    genesis_hash = read_store(kernel, built)[1][0].hash
    error = fails(capsys, "chain", "init", "--genesis", DEV_GENESIS, "--data-dir", built)
    assert error == (
        f"error: a chain already exists in {built / 'chain'} (genesis {h(genesis_hash)}, head "
        f"block 3): use another --data-dir, or remove {built / 'chain'}"
    )
    assert storage_snapshot(kernel, built) == before


@pytest.mark.parametrize(
    ("genesis", "message"),
    [
        ({"alloc": {}}, "config.chainId is required"),
        (
            {"config": {"chainId": 1}, "alloc": {"0x" + "11" * 20: {"balance": "lots"}}},
            f"alloc[0x{'11' * 20}].balance: 'lots' is not a hex or decimal number",
        ),
        ({"config": {"chainId": 1}, "gasLimit": "0x" + "f" * 17}, "gasLimit: "),
        ({"config": {"chainId": 1}, "surprise": 1}, "unknown genesis key 'surprise'"),
    ],
)
def test_an_invalid_genesis_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], genesis: dict[str, Any], message: str
) -> None:
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    data_dir = tmp_path / "data"
    error = fails(capsys, "chain", "init", "--genesis", path, "--data-dir", data_dir)
    assert error.startswith(f"error: {path}: {message}")
    assert not data_dir.exists()  # nothing is created for a genesis that cannot make a chain


def test_a_missing_or_unreadable_genesis_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    assert fails(capsys, "chain", "init", "--genesis", missing) == (
        f"error: {missing}: No such file or directory"
    )
    text = tmp_path / "genesis.json"
    text.write_text("not json")
    assert fails(capsys, "chain", "init", "--genesis", text).startswith(
        f"error: {text}: not JSON: "
    )


@pytest.mark.parametrize(
    "command",
    [["head"], ["block", "0"], ["export", "out.rlp"], ["import", "in.rlp"]],
)
def test_commands_need_a_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    data_dir = tmp_path / "empty"
    (tmp_path / "in.rlp").write_bytes(b"")
    args = [*command[:1], *(str(tmp_path / a) if "." in a else a for a in command[1:])]
    error = fails(capsys, "chain", *args, "--data-dir", data_dir)
    assert error == (
        f"error: no chain in {data_dir / 'chain'}: create it first with "
        "`supervm chain init --genesis FILE`"
    )
    assert not data_dir.exists()  # looking for a chain creates no directory


# -- head and block --------------------------------------------------------------------------------


def test_head_readable(kernel: Kernel, built: Path) -> None:
    head, _blocks = read_store(kernel, built)
    header = head.header
    result = invoke(kernel, "chain", "head", "--data-dir", built)
    assert lines(result.stdout) == {
        "number": "3",
        "hash": h(head.hash),
        "state root": h(header.state_root),
        "timestamp": f"{header.timestamp} (2023-11-14T22:13:56Z)",
        "gas used": str(header.gas_used),
        "gas limit": "30000000",
        "transactions": "2",
    }


def check_block_json(data: dict[str, Any], block: Block) -> None:
    """Every field of an eth_getBlockByNumber block object, against ``block``."""
    header = block.header
    assert set(data) == BLOCK_FIELDS
    assert data["number"] == hex(header.number)
    assert data["hash"] == h(header.hash)
    assert data["parentHash"] == h(header.parent_hash)
    assert data["stateRoot"] == h(header.state_root)
    assert data["transactionsRoot"] == h(header.transactions_root)
    assert data["receiptsRoot"] == h(header.receipts_root)
    assert data["logsBloom"] == h(header.logs_bloom) and len(data["logsBloom"]) == 2 + 512
    assert data["miner"] == "0x" + "00" * 20
    assert data["difficulty"] == "0x0"
    assert data["gasLimit"] == "0x1c9c380"
    assert data["gasUsed"] == hex(header.gas_used)
    assert data["timestamp"] == hex(header.timestamp)
    assert data["extraData"] == "0x"
    assert data["mixHash"] == h(header.mix_hash)
    assert data["nonce"] == "0x0000000000000000"  # 8 bytes of data, not a quantity
    assert data["baseFeePerGas"] == hex(header.base_fee_per_gas or 0)
    assert data["withdrawalsRoot"] == h(header.withdrawals_root or b"")
    assert data["blobGasUsed"] == "0x0"
    assert data["excessBlobGas"] == "0x0"
    assert data["parentBeaconBlockRoot"] == "0x" + "00" * 32
    assert data["sha3Uncles"] == (
        "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    )
    assert data["size"] == hex(len(encode_block(block)))
    assert data["uncles"] == []
    assert data["withdrawals"] == []
    for name in ("number", "difficulty", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
                 "blobGasUsed", "excessBlobGas", "size"):  # fmt: skip
        assert QUANTITY.match(data[name]), (name, data[name])


def test_head_json_is_eth_get_block_by_number(kernel: Kernel, built: Path) -> None:
    head, _blocks = read_store(kernel, built)
    result = invoke(kernel, "chain", "head", "--json", "--data-dir", built)
    assert len(result.stdout.splitlines()) == 1
    data = json.loads(result.stdout)
    check_block_json(data, head)
    assert data["transactions"] == [h(tx.hash) for tx in head.transactions]
    assert data == block_to_json(head, False)


def test_genesis_block_json(kernel: Kernel, built: Path) -> None:
    genesis = read_store(kernel, built)[1][0]
    data = json.loads(invoke(kernel, "chain", "block", "0", "--json", "--data-dir", built).stdout)
    check_block_json(data, genesis)
    assert data["number"] == "0x0"
    assert data["parentHash"] == "0x" + "00" * 32
    assert data["gasUsed"] == "0x0"
    assert data["baseFeePerGas"] == "0x3b9aca00"  # 1 gwei, the genesis file's
    assert data["transactions"] == []
    # The empty trie's root, the same for transactions, receipts and withdrawals.
    empty = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    assert data["transactionsRoot"] == data["receiptsRoot"] == data["withdrawalsRoot"] == empty


def test_block_json_full_transactions(kernel: Kernel, built: Path) -> None:
    _head, blocks = read_store(kernel, built)
    block = blocks[2]
    result = invoke(kernel, "chain", "block", "2", "--json", "--full", "--data-dir", built)
    data = json.loads(result.stdout)
    check_block_json(data, block)
    call, with_access_list = data["transactions"]
    base_fee = block.header.base_fee_per_gas
    assert base_fee is not None
    for index, (tx_json, tx) in enumerate(
        zip(data["transactions"], block.transactions, strict=True)
    ):
        assert tx_json["blockHash"] == h(block.hash)
        assert tx_json["blockNumber"] == "0x2"
        assert tx_json["blockTimestamp"] == hex(block.header.timestamp)
        assert tx_json["transactionIndex"] == hex(index)
        assert tx_json["hash"] == h(tx.hash)
        assert tx_json["from"] == h(tx.sender)
        assert tx_json == transaction_to_json(tx, block, index)

    # EIP-1559: gasPrice is the effective price in this block, beside the two caps.
    assert set(call) == DYNAMIC_FEE_FIELDS
    assert call["type"] == "0x2"
    assert call["chainId"] == "0x7a69"
    assert call["nonce"] == "0x1"
    assert call["gas"] == hex(200_000)
    assert call["maxFeePerGas"] == hex(50 * GWEI)
    assert call["maxPriorityFeePerGas"] == hex(2 * GWEI)
    assert call["gasPrice"] == hex(min(50 * GWEI, base_fee + 2 * GWEI))
    assert call["to"] == h(CONTRACT)
    assert call["value"] == "0x0"
    assert call["input"] == h(b"world")
    assert call["accessList"] == []
    assert call["yParity"] == call["v"] == hex(block.transactions[0].y_parity)
    assert QUANTITY.match(call["r"]) and QUANTITY.match(call["s"])

    # EIP-2930: a gas price, an access list, v and yParity.
    assert set(with_access_list) == ACCESS_LIST_FIELDS
    assert with_access_list["type"] == "0x1"
    assert with_access_list["gasPrice"] == hex(10 * GWEI)
    assert with_access_list["accessList"] == [
        {"address": h(CONTRACT), "storageKeys": ["0x" + "00" * 32, "0x" + "01" * 32]}
    ]
    assert with_access_list["from"] == h(ACCOUNTS[2].address)

    # Block 1: a create (to null) and an EIP-155 legacy transfer (v, no yParity).
    data = json.loads(
        invoke(kernel, "chain", "block", "1", "--json", "--full", "--data-dir", built).stdout
    )
    create, legacy = data["transactions"]
    assert create["to"] is None
    assert create["input"].startswith("0x0061736d")  # \0asm
    assert set(legacy) == LEGACY_FIELDS
    assert legacy["type"] == "0x0"
    assert legacy["chainId"] == "0x7a69"
    assert legacy["v"] == hex(CHAIN_ID * 2 + 35 + blocks[1].transactions[1].y_parity)
    assert legacy["value"] == "0x7"
    assert legacy["gasPrice"] == hex(10 * GWEI)


def test_block_readable(kernel: Kernel, built: Path) -> None:
    _head, blocks = read_store(kernel, built)
    block = blocks[1]
    out = invoke(kernel, "chain", "block", "1", "--data-dir", built).stdout
    fields = lines(out)
    assert fields["number"] == "1"
    assert fields["hash"] == h(block.hash)
    assert fields["parent hash"] == h(blocks[0].hash)
    assert fields["state root"] == h(block.header.state_root)
    assert fields["transactions"] == "2"
    assert fields["base fee per gas"] == str(block.header.base_fee_per_gas)
    create, transfer = block.transactions
    assert fields["  0"] == f"{h(create.hash)} from {h(ACCOUNTS[0].address)} to (create) value 0"
    assert fields["  1"] == (
        f"{h(transfer.hash)} from {h(ACCOUNTS[1].address)} to {h(ACCOUNTS[5].address)} value 7"
    )
    full = invoke(kernel, "chain", "block", "1", "--full", "--data-dir", built).stdout
    assert "transaction 1:\n  hash: " + h(transfer.hash) in full
    assert "  to: none (contract creation)" in full


def test_block_latest_and_earliest(kernel: Kernel, built: Path) -> None:
    head = invoke(kernel, "chain", "head", "--json", "--data-dir", built).stdout
    assert invoke(kernel, "chain", "block", "latest", "--json", "--data-dir", built).stdout == head
    assert invoke(kernel, "chain", "block", "0x3", "--json", "--data-dir", built).stdout == head
    earliest = invoke(kernel, "chain", "block", "earliest", "--data-dir", built).stdout
    assert earliest == invoke(kernel, "chain", "block", "0", "--data-dir", built).stdout


def test_a_missing_block_is_one_line(
    kernel: Kernel, built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fails(capsys, "chain", "block", "4", "--data-dir", built) == (
        "error: no block 4 in the chain (the head is block 3)"
    )
    assert fails(capsys, "chain", "block", str(2**70), "--data-dir", built).startswith(
        f"error: no block {2**70} in the chain"
    )


# -- tx decode -------------------------------------------------------------------------------------


def test_tx_decode_a_signed_transaction(kernel: Kernel) -> None:
    tx = signed(0, nonce=4, gas=60_000, to=ACCOUNTS[1].address, value=10**18, data=b"\x01\x02")
    raw = encode_transaction(tx)
    # An independent decoder agrees on the sender and the hash.
    assert Account.recover_transaction(raw) == to_checksum_address(ACCOUNTS[0].address)
    out = invoke(kernel, "tx", "decode", h(raw)).stdout
    assert lines(out) == {
        "hash": h(tx.hash),
        "sender": h(ACCOUNTS[0].address),
        "type": "2 (EIP-1559)",
        "chain id": "31337",
        "nonce": "4",
        "max fee per gas": str(50 * GWEI),
        "max priority fee per gas": str(2 * GWEI),
        "gas": "60000",
        "to": h(ACCOUNTS[1].address),
        "value": str(10**18),
        "data": "0x0102 (2 bytes)",
    }
    # Without 0x, and on stdin.
    assert invoke(kernel, "tx", "decode", raw.hex()).stdout == out
    stdin = CliRunner().invoke(
        cli, ["tx", "decode", "-"], input=h(raw) + "\n", obj=KernelState((), False, kernel)
    )
    assert stdin.exit_code == 0 and stdin.stdout == out


def test_tx_decode_json_is_a_pending_transaction(kernel: Kernel) -> None:
    tx = signed(0, nonce=4, gas=60_000, to=ACCOUNTS[1].address, value=10**18, data=b"\x01\x02")
    out = invoke(kernel, "tx", "decode", h(encode_transaction(tx)), "--json").stdout
    assert len(out.splitlines()) == 1
    data = json.loads(out)
    assert set(data) == DYNAMIC_FEE_FIELDS
    assert data == {
        "type": "0x2",
        "chainId": "0x7a69",
        "nonce": "0x4",
        "gas": "0xea60",
        "gasPrice": hex(50 * GWEI),  # outside a block: the fee cap, as the spec says
        "maxFeePerGas": hex(50 * GWEI),
        "maxPriorityFeePerGas": hex(2 * GWEI),
        "to": h(ACCOUNTS[1].address),
        "value": "0xde0b6b3a7640000",
        "input": "0x0102",
        "accessList": [],
        "v": hex(tx.y_parity),
        "r": hex(tx.r),
        "s": hex(tx.s),
        "yParity": hex(tx.y_parity),
        "hash": h(tx.hash),
        "from": h(ACCOUNTS[0].address),
        "blockHash": None,
        "blockNumber": None,
        "blockTimestamp": None,
        "transactionIndex": None,
    }


def test_tx_decode_a_legacy_transaction_without_eip155(kernel: Kernel) -> None:
    tx = sign_transaction(
        UnsignedTransaction(type=0, chain_id=None, nonce=0, gas_price=GWEI, gas=60_000, to=None),
        ACCOUNTS[3].private_key,
    )
    data = json.loads(invoke(kernel, "tx", "decode", h(encode_transaction(tx)), "--json").stdout)
    assert "chainId" not in data and "yParity" not in data and "accessList" not in data
    assert data["v"] == hex(27 + tx.y_parity)
    assert data["to"] is None
    out = lines(invoke(kernel, "tx", "decode", h(encode_transaction(tx))).stdout)
    assert out["chain id"] == "none (no EIP-155 protection)"
    assert out["gas price"] == str(GWEI)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0xzz", "error: RAW_HEX is not hex: 'z' is not a hex digit"),
        ("0x123", "error: RAW_HEX has an odd number of hex digits (3)"),
        ("0x", "error: invalid RLP: empty transaction"),
        ("0xc0", "error: invalid RLP: a legacy transaction has 9 fields, got 0"),
        ("0x03c0", "error: invalid RLP: a type 3 transaction has 14 fields, got 0"),
        ("0x04c0", "error: transaction type 4 not supported (set-code transactions, EIP-7702)"),
    ],
)
def test_tx_decode_garbage_is_one_line(
    capsys: pytest.CaptureFixture[str], raw: str, message: str
) -> None:
    assert fails(capsys, "tx", "decode", raw) == message


def test_tx_decode_refuses_another_chain_and_trailing_bytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = encode_transaction(signed(0, nonce=0, gas=21_000, to=ACCOUNTS[1].address))
    assert fails(capsys, "tx", "decode", h(raw), "--chain-id", "1") == (
        "error: invalid chain id: the transaction is for chain 31337, not 1"
    )
    assert fails(capsys, "tx", "decode", h(raw) + "00") == (
        "error: invalid RLP: trailing bytes after the transaction (1)"
    )


# -- export and import -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chain.rlp", "chain.rlp.gz"])
def test_export_then_import_reproduces_the_chain(
    kernel: Kernel, built: Path, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    result = invoke(kernel, "chain", "export", path, "--data-dir", built)
    head, blocks = read_store(kernel, built)
    size = sum(len(encode_block(b)) for b in blocks)
    assert result.stdout == f"exported blocks 0 to 3 (4 blocks, {size} bytes) to {path}\n"
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert export_blocks(path) == [encode_block(b) for b in blocks]

    target = fresh(kernel, tmp_path)
    result = invoke(kernel, "chain", "import", path, "--data-dir", target)
    assert result.stdout == (
        f"imported 3 blocks, skipped 1 already in the chain; head: block 3 {h(head.hash)}, "
        f"state root {h(head.header.state_root)}\n"
    )
    assert re.fullmatch(
        r"imported 3 blocks \(6 transactions, \d+ tx/s\) in \d+\.\d\d s\n", result.stderr
    )
    imported_head, imported = read_store(kernel, target)
    assert imported_head.hash == head.hash
    assert imported_head.header.state_root == head.header.state_root
    assert [b.hash for b in imported] == [b.hash for b in blocks]
    assert invoke(kernel, "chain", "head", "--json", "--data-dir", target).stdout == (
        invoke(kernel, "chain", "head", "--json", "--data-dir", built).stdout
    )
    # The re-executed state is the same, key for key.
    assert storage_snapshot(kernel, target) == storage_snapshot(kernel, built)

    # Importing again skips every block.
    again = invoke(kernel, "chain", "import", path, "--data-dir", target)
    assert again.stdout.startswith("imported 0 blocks, skipped 4 already in the chain;")


def test_export_a_range_and_import_it_in_pieces(
    kernel: Kernel, built: Path, tmp_path: Path
) -> None:
    _head, blocks = read_store(kernel, built)
    first = tmp_path / "first.rlp"
    rest = tmp_path / "rest.rlp.gz"
    invoke(kernel, "chain", "export", first, "--last", "1", "--data-dir", built)
    invoke(kernel, "chain", "export", rest, "--first", "2", "--data-dir", built)
    assert export_blocks(first) == [encode_block(b) for b in blocks[:2]]
    assert export_blocks(rest) == [encode_block(b) for b in blocks[2:]]
    target = fresh(kernel, tmp_path)
    invoke(kernel, "chain", "import", first, "--data-dir", target)
    invoke(kernel, "chain", "import", rest, "--data-dir", target)
    assert read_store(kernel, target)[0].hash == blocks[3].hash


def test_export_range_errors(
    kernel: Kernel, built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.rlp"
    assert fails(capsys, "chain", "export", out, "--last", "9", "--data-dir", built) == (
        "error: --last 9 is beyond the head, block 3"
    )
    assert fails(
        capsys, "chain", "export", out, "--first", "3", "--last", "2", "--data-dir", built
    ) == ("error: --first 3 is after --last 2")


def tampered_state_root(exported: Path, tmp_path: Path, index: int) -> Path:
    """The export with block ``index``'s state root changed (and the file otherwise intact)."""
    raws = export_blocks(exported)
    block = decode_block(raws[index])
    header = attrs.evolve(block.header, state_root=b"\xee" * 32)
    raws[index] = encode_block(attrs.evolve(block, header=header))
    path = tmp_path / "tampered.rlp"
    path.write_bytes(b"".join(raws))
    return path


def test_import_refuses_a_changed_state_root_and_keeps_the_chain(
    kernel: Kernel, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tampered_state_root(exported, tmp_path, 1)
    target = fresh(kernel, tmp_path)
    before = storage_snapshot(kernel, target)
    error = fails(capsys, "chain", "import", path, "--data-dir", target)
    offset = len(export_blocks(exported)[0])
    assert error.startswith(
        f"error: {path}: block at index 1 (byte offset {offset}): block 1: state root differs: "
        f"the header says 0x{'ee' * 32}, execution gives 0x"
    )
    assert storage_snapshot(kernel, target) == before  # not a key of block 1 was written


def test_import_stops_at_the_first_invalid_block_keeping_those_before(
    kernel: Kernel, built: Path, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _head, blocks = read_store(kernel, built)
    path = tampered_state_root(exported, tmp_path, 2)
    target = fresh(kernel, tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["chain", "import", str(path), "--data-dir", str(target)])
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert re.fullmatch(
        r"imported 1 blocks \(2 transactions, \d+ tx/s\) in \d+\.\d\d s before the error", err[0]
    )
    assert "block at index 2" in err[1] and "block 2: state root differs" in err[1]
    head, _ = read_store(kernel, target)
    assert head.hash == blocks[1].hash  # block 1 stays imported, nothing of block 2 does
    assert head.header.state_root == blocks[1].header.state_root
    with kernel.open_storage("lmdb", StorageSettings(data_dir=target / "chain")) as storage:
        assert ChainStore(storage).block_by_number(2) is None
        assert ChainStore(storage).transaction_location(blocks[2].transactions[0].hash) is None


def test_import_a_truncated_file(
    kernel: Kernel, built: Path, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raws = export_blocks(exported)
    path = tmp_path / "cut.rlp"
    path.write_bytes(b"".join(raws)[:-10])
    target = fresh(kernel, tmp_path)
    offset = sum(len(r) for r in raws[:3])
    assert fails(capsys, "chain", "import", path, "--data-dir", target) == (
        f"error: {path}: block at index 3 (byte offset {offset}): truncated: the block is "
        f"{len(raws[3])} bytes, the file has {len(raws[3]) - 10} left"
    )
    assert read_store(kernel, target)[0].hash == read_store(kernel, built)[1][2].hash
    # Cut inside a block's length prefix.
    path.write_bytes(raws[0] + raws[1][:2])
    assert fails(capsys, "chain", "import", path, "--data-dir", fresh(kernel, tmp_path, "b")) == (
        f"error: {path}: block at index 1 (byte offset {len(raws[0])}): truncated: the file "
        "ends inside the block's length"
    )


def test_import_garbage(
    kernel: Kernel, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = fresh(kernel, tmp_path)
    before = storage_snapshot(kernel, target)
    path = tmp_path / "garbage.rlp"
    path.write_bytes(b"hello, world")
    assert fails(capsys, "chain", "import", path, "--data-dir", target) == (
        f"error: {path}: block at index 0 (byte offset 0): not an RLP list (first byte 0x68): "
        "the file is not a chain export"
    )
    # A gzip file without the .gz name.
    path.write_bytes(gzip.compress(exported.read_bytes()))
    assert fails(capsys, "chain", "import", path, "--data-dir", target).endswith(
        "not an RLP list (first byte 0x1f): the file is not a chain export (it looks "
        "gzip-compressed: name it .gz)"
    )
    # A .gz name without gzip inside.
    gz = tmp_path / "chain.rlp.gz"
    gz.write_bytes(exported.read_bytes())
    assert fails(capsys, "chain", "import", gz, "--data-dir", target).startswith(
        f"error: {gz}: not a valid gzip file (after byte 0): "
    )
    # A list that is not a block.
    path.write_bytes(b"\xc3\x01\x02\x03")
    assert fails(capsys, "chain", "import", path, "--data-dir", target) == (
        f"error: {path}: block at index 0 (byte offset 0): invalid RLP: the block header must "
        "be a list"
    )
    # Non-canonical RLP: a long length form for a short block.
    path.write_bytes(b"\xf8\x01\xc0")
    assert fails(capsys, "chain", "import", path, "--data-dir", target) == (
        f"error: {path}: block at index 0 (byte offset 0): invalid RLP: the block uses the "
        "long form for a short length"
    )
    assert storage_snapshot(kernel, target) == before


def test_import_from_another_genesis_is_refused(
    kernel: Kernel, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    genesis = tmp_path / "other.json"
    genesis.write_text(json.dumps(dev_genesis((ACCOUNTS[0].address,), chain_id=7)))
    target = tmp_path / "other"
    invoke(kernel, "chain", "init", "--genesis", genesis, "--data-dir", target)
    ours = read_store(kernel, target)[0].hash
    theirs = decode_block(export_blocks(exported)[0]).hash
    assert fails(capsys, "chain", "import", exported, "--data-dir", target) == (
        f"error: {exported}: block at index 0 (byte offset 0): its genesis {h(theirs)} is not "
        f"the chain's {h(ours)}: the file is from another chain (or fork)"
    )


def test_import_into_a_chain_whose_genesis_gives_the_chain_id_in_hex(
    kernel: Kernel, exported: Path, tmp_path: Path
) -> None:
    genesis = json.loads(DEV_GENESIS.read_text())
    genesis["config"]["chainId"] = hex(CHAIN_ID)  # geth's files use numbers; hex is accepted
    path = tmp_path / "hex.json"
    path.write_text(json.dumps(genesis))
    target = tmp_path / "hex"
    assert (
        "chain id: 31337"
        in invoke(kernel, "chain", "init", "--genesis", path, "--data-dir", target).stdout
    )
    result = invoke(kernel, "chain", "import", exported, "--data-dir", target)
    assert result.stdout.startswith("imported 3 blocks, skipped 1 already in the chain;")


def test_import_reports_progress_on_stderr(
    kernel: Kernel, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("supervm.cli.chain.PROGRESS_INTERVAL", 0.0)  # a line for every block
    result = invoke(kernel, "chain", "import", exported, "--data-dir", fresh(kernel, tmp_path))
    progress = result.stderr.splitlines()
    assert len(progress) == 4
    for blocks, (line, txs) in enumerate(zip(progress[:3], (2, 4, 6), strict=True), start=1):
        assert re.fullmatch(
            rf"imported {blocks} blocks \({txs} transactions, \d+ tx/s\) in \d+\.\d\d s, "
            rf"at block {blocks}",
            line,
        )
    assert progress[3].startswith("imported 3 blocks (6 transactions, ")
    assert result.stdout.startswith("imported 3 blocks, skipped 1 already in the chain;")
