"""``supervm chain ...`` and ``supervm tx decode``: a chain on disk, read, exported and imported.

The chain lives in ``DATA_DIR/chain/``, in the storage named :data:`CHAIN_STORAGE` (LMDB, from the
storage_lmdb plugin: the kernel names it, never imports it), apart from the ``wasm`` commands'
state in ``DATA_DIR/lmdb/``: a chain's state is only ever changed by its blocks.

Export and import use geth's format (``geth export`` / ``geth import``): the blocks' RLP
encodings concatenated, gzip-compressed when the file name ends in ``.gz``.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import io
import json
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from supervm.chain.blocks import Block, BlockError, BlockHeader, decode_header
from supervm.chain.chain import BlockImportError, Chain, ChainError
from supervm.chain.genesis import load_genesis, parse_genesis
from supervm.chain.rlp_reader import read_header
from supervm.chain.store import ChainStore
from supervm.chain.transactions import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    Transaction,
    decode_transaction,
)
from supervm.cli.state import kernel_state
from supervm.errors import SuperVMError
from supervm.kernel import Kernel
from supervm.state.storage import Storage, StorageSettings
from supervm.tooling.convert import block_to_json, transaction_to_json

#: Where the command line keeps its state unless ``--data-dir`` or this variable says otherwise
#: (the same as the ``wasm`` commands').
DATA_DIR_ENV: Final = "SUPERVM_DATA_DIR"
DEFAULT_DATA_DIR: Final = Path(".supervm")
#: The data directory's subdirectory holding the chain.
CHAIN_SUBDIR: Final = "chain"
#: The storage backend a chain is kept in.
CHAIN_STORAGE: Final = "lmdb"
#: How often ``chain import`` reports progress, in seconds.
PROGRESS_INTERVAL: Final = 2.0
#: How much of an export file ``chain import`` reads at a time.
READ_CHUNK: Final = 1 << 20

_TYPE_NAMES: Final = {0: "legacy", ACCESS_LIST_TX_TYPE: "EIP-2930", DYNAMIC_FEE_TX_TYPE: "EIP-1559"}

F = TypeVar("F", bound=Callable[..., Any])


class ChainFileError(SuperVMError):
    """An export file that is not a sequence of blocks (truncated, garbage, bad gzip)."""


class InputError(SuperVMError):
    """A command-line argument that cannot be read (a raw transaction that is not hex)."""


def _data_dir_option(command: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DATA_DIR,
        envvar=DATA_DIR_ENV,
        show_default=True,
        help=f"The data directory; the chain is in its {CHAIN_SUBDIR}/ (also ${DATA_DIR_ENV}).",
    )(command)


def _json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")(command)


# -- opening the chain -----------------------------------------------------------------------------


def _no_chain(path: Path) -> ChainError:
    return ChainError(
        f"no chain in {path}: create it first with `supervm chain init --genesis FILE`"
    )


def _open_storage(kernel: Kernel, path: Path) -> Storage:
    return kernel.open_storage(CHAIN_STORAGE, StorageSettings(data_dir=path))


@contextlib.contextmanager
def _existing_storage(kernel: Kernel, data_dir: Path) -> Iterator[tuple[Storage, ChainStore]]:
    """The storage of the chain in ``data_dir`` and its chain store; a one-line error if there
    is none (and no directory is created looking for it)."""
    path = data_dir / CHAIN_SUBDIR
    if not path.is_dir():
        raise _no_chain(path)
    with _open_storage(kernel, path) as storage:
        store = ChainStore(storage)
        if store.head_hash() is None:
            raise _no_chain(path)
        yield storage, store


def _head_block(store: ChainStore) -> Block:
    head_hash = store.head_hash()
    block = store.block(head_hash) if head_hash is not None else None
    if block is None:  # the head is written with its block, in one batch
        raise ChainError("the chain store has a head but not its block")
    return block


# -- readable output -------------------------------------------------------------------------------


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _time(timestamp: int) -> str:
    try:
        when = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return str(timestamp)  # beyond what datetime represents: the number says it all
    return f"{timestamp} ({when.strftime('%Y-%m-%dT%H:%M:%SZ')})"


def _summary_lines(header: BlockHeader, tx_count: int) -> list[str]:
    """What ``chain head`` prints."""
    return [
        f"number: {header.number}",
        f"hash: {_hex(header.hash)}",
        f"state root: {_hex(header.state_root)}",
        f"timestamp: {_time(header.timestamp)}",
        f"gas used: {header.gas_used}",
        f"gas limit: {header.gas_limit}",
        f"transactions: {tx_count}",
    ]


def _block_lines(block: Block, full: bool) -> list[str]:
    """What ``chain block`` prints: the head's lines, the other header fields, and one line per
    transaction (or, with ``full``, each transaction as ``tx decode`` shows it)."""
    header = block.header
    lines = _summary_lines(header, len(block.transactions))
    lines[2:2] = [f"parent hash: {_hex(header.parent_hash)}"]
    lines += [
        f"transactions root: {_hex(header.transactions_root)}",
        f"receipts root: {_hex(header.receipts_root)}",
        f"miner: {_hex(header.coinbase)}",
    ]
    if header.base_fee_per_gas is not None:
        lines.append(f"base fee per gas: {header.base_fee_per_gas}")
    if header.extra_data:
        lines.append(f"extra data: {_hex(header.extra_data)}")
    for index, tx in enumerate(block.transactions):
        if full:
            lines.append(f"transaction {index}:")
            lines += [f"  {line}" for line in _transaction_lines(tx)]
        else:
            to = _hex(tx.to) if tx.to is not None else "(create)"
            lines.append(
                f"  {index}: {_hex(tx.hash)} from {_hex(tx.sender)} to {to} value {tx.value}"
            )
    return lines


def _transaction_lines(tx: Transaction) -> list[str]:
    """What ``tx decode`` prints."""
    lines = [
        f"hash: {_hex(tx.hash)}",
        f"sender: {_hex(tx.sender)}",
        f"type: {tx.type} ({_TYPE_NAMES.get(tx.type, 'unknown')})",
        f"chain id: {tx.chain_id if tx.chain_id is not None else 'none (no EIP-155 protection)'}",
        f"nonce: {tx.nonce}",
    ]
    if tx.type == DYNAMIC_FEE_TX_TYPE:
        lines += [
            f"max fee per gas: {tx.max_fee_per_gas}",
            f"max priority fee per gas: {tx.max_priority_fee_per_gas}",
        ]
    else:
        lines.append(f"gas price: {tx.gas_price}")
    lines += [
        f"gas: {tx.gas}",
        f"to: {_hex(tx.to) if tx.to is not None else 'none (contract creation)'}",
        f"value: {tx.value}",
        f"data: {_hex(tx.data)} ({len(tx.data)} bytes)",
    ]
    if tx.access_list:
        keys = sum(len(k) for _address, k in tx.access_list)
        lines.append(f"access list: {len(tx.access_list)} addresses, {keys} storage keys")
    return lines


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


# -- commands --------------------------------------------------------------------------------------


@click.group("chain")
def chain_group() -> None:
    """A chain in the data directory: create it, read its blocks, export and import them."""


@chain_group.command("init")
@click.option(
    "--genesis",
    "genesis_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The genesis file (geth's JSON; see examples/genesis/dev.json).",
)
@_data_dir_option
@click.pass_context
def init_command(ctx: click.Context, genesis_path: Path, data_dir: Path) -> None:
    """Create a chain in --data-dir from a genesis file; print the genesis block's hash."""
    kernel = kernel_state(ctx).kernel
    # Read the genesis first: a bad one must not leave an empty chain directory behind.
    genesis, raw = load_genesis(genesis_path)
    path = data_dir / CHAIN_SUBDIR
    with _open_storage(kernel, path) as storage:
        store = ChainStore(storage)
        head = store.head()
        if head is not None:
            genesis_hash = store.genesis_hash() or b""
            raise ChainError(
                f"a chain already exists in {path} (genesis {_hex(genesis_hash)}, head block "
                f"{head.number}): use another --data-dir, or remove {path}"
            )
        try:
            chain = Chain.initialise(kernel, storage, genesis, raw)
        except ChainError as exc:  # a storage holding something else than a chain
            raise ChainError(f"{path}: {exc}") from None
        chain.close()
        header = chain.head
    click.echo(f"created a chain in {path}")
    click.echo(f"genesis hash: {_hex(header.hash)}")
    click.echo(f"state root: {_hex(header.state_root)}")
    click.echo(f"chain id: {genesis.chain_id}")


@chain_group.command("head")
@_json_option
@_data_dir_option
@click.pass_context
def head_command(ctx: click.Context, as_json: bool, data_dir: Path) -> None:
    """The head block: number, hash, state root, time, gas and transaction count.

    --json prints the block as eth_getBlockByNumber("latest", false) returns it.
    """
    with _existing_storage(kernel_state(ctx).kernel, data_dir) as (_storage, store):
        block = _head_block(store)
    if as_json:
        click.echo(json.dumps(block_to_json(block, False)))
    else:
        _echo_lines(_summary_lines(block.header, len(block.transactions)))


def _block_number(text: str, head: int) -> int:
    """A block argument: ``latest``, ``earliest``, a decimal number or a 0x-hex one."""
    if text == "latest":
        return head
    if text == "earliest":
        return 0
    try:
        number = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a block number (a number, 0x-hex, latest or earliest)",
            param_hint="N",
        ) from None
    if number < 0:
        raise click.BadParameter(f"block numbers are not negative, got {number}", param_hint="N")
    return number


@chain_group.command("block")
@click.argument("number", metavar="N")
@_json_option
@click.option("--full", is_flag=True, help="Whole transactions instead of their hashes.")
@_data_dir_option
@click.pass_context
def block_command(
    ctx: click.Context, number: str, as_json: bool, full: bool, data_dir: Path
) -> None:
    """Block N of the chain: a number (decimal or 0x-hex), latest or earliest.

    --json prints it as eth_getBlockByNumber(N, --full) returns it.
    """
    with _existing_storage(kernel_state(ctx).kernel, data_dir) as (_storage, store):
        head = _head_block(store).header
        n = _block_number(number, head.number)
        block = store.block_by_number(n) if n <= head.number else None
        if block is None:
            raise ChainError(f"no block {n} in the chain (the head is block {head.number})")
    if as_json:
        click.echo(json.dumps(block_to_json(block, full)))
    else:
        _echo_lines(_block_lines(block, full))


# -- export and import -----------------------------------------------------------------------------


def _is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


@contextlib.contextmanager
def _writer(path: Path) -> Iterator[io.BufferedIOBase]:
    """``path`` opened for writing, through gzip if its name ends in ``.gz``."""
    with path.open("wb") as raw:
        if not _is_gzip(path):
            yield raw
            return
        # No name and a zero time in the gzip header: the same blocks give the same file.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
            yield compressed


@chain_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_data_dir_option
@click.option(
    "--first", type=click.IntRange(min=0), default=0, show_default=True, help="The first block."
)
@click.option("--last", type=click.IntRange(min=0), help="The last block.  [default: the head]")
@click.pass_context
def export_command(
    ctx: click.Context, file: Path, data_dir: Path, first: int, last: int | None
) -> None:
    """Write blocks --first to --last to FILE as geth does: their RLP, concatenated.

    A FILE ending in .gz is gzip-compressed.
    """
    with _existing_storage(kernel_state(ctx).kernel, data_dir) as (_storage, store):
        head = _head_block(store).header.number
        last = head if last is None else last
        if last > head:
            raise ChainError(f"--last {last} is beyond the head, block {head}")
        if first > last:
            raise ChainError(f"--first {first} is after --last {last}")
        size = 0
        with _writer(file) as out:
            for number in range(first, last + 1):
                block_hash = store.canonical_hash(number)
                raw = store.raw_block(block_hash) if block_hash is not None else None
                if raw is None:
                    raise ChainError(f"the chain store has no block {number}")
                out.write(raw)
                size += len(raw)
    count = last - first + 1
    click.echo(f"exported blocks {first} to {last} ({count} blocks, {size} bytes) to {file}")


def _reader(path: Path) -> io.BufferedIOBase:
    """``path`` opened for reading, through gzip if its name ends in ``.gz``."""
    if _is_gzip(path):
        return gzip.open(path, "rb")
    return path.open("rb")


def _read(stream: io.BufferedIOBase, path: Path, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes; gzip's complaints become one-line errors."""
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ChainFileError(
            f"{path}: not a valid gzip file (after byte {offset}): {exc}"
        ) from None


def _blocks(stream: io.BufferedIOBase, path: Path) -> Iterator[tuple[int, int, bytes]]:
    """The blocks in an export stream: ``(index in the file, byte offset, block RLP)``.

    Each block's length comes from its RLP header, so the stream is read block by block,
    never whole. The offset is in the uncompressed stream.
    """
    buf = b""
    offset = 0
    index = 0

    def fill(needed: int) -> bool:
        nonlocal buf
        while len(buf) < needed:
            chunk = _read(stream, path, min(READ_CHUNK, needed - len(buf)), offset + len(buf))
            if not chunk:
                return False
            buf += chunk
        return True

    while fill(1):
        where = f"{path}: block at index {index} (byte offset {offset})"
        first = buf[0]
        if first < 0xC0:
            fill(2)  # enough to recognise gzip's magic number
            hint = " (it looks gzip-compressed: name it .gz)" if buf[:2] == b"\x1f\x8b" else ""
            raise ChainFileError(
                f"{where}: not an RLP list (first byte 0x{first:02x}): the file is not a chain "
                f"export{hint}"
            )
        header_size = 1 + (first - 0xF7 if first >= 0xF8 else 0)
        if not fill(header_size):
            raise ChainFileError(f"{where}: truncated: the file ends inside the block's length")
        try:
            # An unbounded end: the length is checked against what the file holds below.
            _is_list, _start, stop = read_header(buf, 0, sys.maxsize, "the block", BlockError)
        except BlockError as exc:
            raise ChainFileError(f"{where}: {exc}") from None
        if not fill(stop):
            raise ChainFileError(
                f"{where}: truncated: the block is {stop} bytes, the file has {len(buf)} left"
            )
        raw, buf = buf[:stop], buf[stop:]
        yield index, offset, raw
        offset += stop
        index += 1


def _header_of(raw: bytes, where: str) -> BlockHeader:
    """The header of the block ``raw``, read without decoding its transactions."""
    try:
        _is_list, start, stop = read_header(raw, 0, len(raw), "the block", BlockError)
        is_list, _hstart, hstop = read_header(raw, start, stop, "the block header", BlockError)
        if not is_list:
            raise BlockError("invalid RLP: the block header must be a list")
        return decode_header(raw[start:hstop])
    except BlockError as exc:
        raise ChainFileError(f"{where}: {exc}") from None


def _chain_id(store: ChainStore) -> int:
    """The chain id, from the genesis file stored with the chain.

    Read with the genesis parser, which accepts every form of ``config.chainId`` a genesis
    file may give (a number, a decimal or a 0x-hex string), rather than left to :class:`Chain`.
    """
    config = store.config()
    if config is None:
        raise ChainError("the chain store has no genesis file")
    return parse_genesis(json.loads(config)).chain_id


class _Progress:
    """Counts imported blocks and reports on stderr now and then."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.reported = self.started
        self.blocks = 0
        self.transactions = 0
        self.skipped = 0

    def add(self, transactions: int, number: int) -> None:
        self.blocks += 1
        self.transactions += transactions
        now = time.monotonic()
        if now - self.reported >= PROGRESS_INTERVAL:
            self.reported = now
            click.echo(f"{self.line()}, at block {number}", err=True)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"imported {self.blocks} blocks ({self.transactions} transactions, "
            f"{self.transactions / elapsed:.0f} tx/s) in {elapsed:.2f} s"
        )


@chain_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_data_dir_option
@click.pass_context
def import_command(ctx: click.Context, file: Path, data_dir: Path) -> None:
    """Import the blocks of FILE (geth's export format; .gz for gzip) into the chain.

    Each block is re-executed and its roots checked before it is committed, on its own. Blocks
    the chain already has are skipped; the first invalid block stops the import, the ones
    before it stay imported.
    """
    kernel = kernel_state(ctx).kernel
    with _existing_storage(kernel, data_dir) as (storage, store), _reader(file) as stream:
        chain = Chain(kernel, storage, chain_id=_chain_id(store))
        progress = _Progress()
        try:
            for index, offset, raw in _blocks(stream, file):
                where = f"{file}: block at index {index} (byte offset {offset})"
                header = _header_of(raw, where)
                if header.number <= chain.head.number:
                    known = store.canonical_hash(header.number)
                    if known == header.hash:
                        progress.skipped += 1
                        continue
                    what = "genesis" if header.number == 0 else f"block {header.number}"
                    raise BlockImportError(
                        f"{where}: its {what} {_hex(header.hash)} is not the chain's "
                        f"{_hex(known or b'')}: the file is from another chain (or fork)"
                    )
                try:
                    receipts = chain.import_block(raw)
                except BlockImportError as exc:
                    raise BlockImportError(f"{where}: {exc}") from None
                progress.add(len(receipts), header.number)
        except SuperVMError:
            if progress.blocks:
                click.echo(f"{progress.line()} before the error", err=True)
            raise
        finally:
            chain.close()
        head = chain.head
    click.echo(progress.line(), err=True)
    click.echo(
        f"imported {progress.blocks} blocks, skipped {progress.skipped} already in the chain; "
        f"head: block {head.number} {_hex(head.hash)}, state root {_hex(head.state_root)}"
    )


# -- transactions ----------------------------------------------------------------------------------


@click.group("tx")
def tx_group() -> None:
    """Signed transactions: decode them."""


def _raw_transaction(text: str) -> bytes:
    """RAW_HEX as bytes: 0x-hex (the prefix optional), or ``-`` for hex on stdin."""
    if text == "-":
        text = sys.stdin.read()
    digits = "".join(text.split()).removeprefix("0x").removeprefix("0X")
    if len(digits) % 2:
        raise InputError(f"RAW_HEX has an odd number of hex digits ({len(digits)})")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        bad = next(c for c in digits if c not in "0123456789abcdefABCDEF")
        raise InputError(f"RAW_HEX is not hex: {bad!r} is not a hex digit") from None


@tx_group.command("decode")
@click.argument("raw_hex", metavar="RAW_HEX")
@_json_option
@click.option(
    "--chain-id",
    type=click.IntRange(min=0),
    help="Refuse a transaction signed for another chain (default: accept any).",
)
def decode_command(raw_hex: str, as_json: bool, chain_id: int | None) -> None:
    """Decode a signed raw transaction (0x-hex; - reads it from stdin): its sender, hash and
    fields. --json prints it as eth_getTransactionByHash returns a pending transaction."""
    tx = decode_transaction(_raw_transaction(raw_hex), chain_id=chain_id)
    if as_json:
        click.echo(json.dumps(transaction_to_json(tx)))
    else:
        _echo_lines(_transaction_lines(tx))
