"""The ``supervm_`` JSON-RPC methods the explorer reads what the standard methods lack through.

They are ordinary methods of the kernel's registry (``supervm_register_rpc_methods``), served by
the rpc plugin on the node's one port like ``eth_call``, so the explorer needs no side channel
and any client (an SDK registering its artifacts, a script decoding a transaction) may use them:

- ``supervm_registerArtifact``, ``supervm_getArtifacts``, ``supervm_getArtifact``: the artifacts
  the node knows (:mod:`supervm_explorer.book`);
- ``supervm_contractInfo``: an account's kind (WASM or EVM contract, or none), code hash and
  size, and the artifact describing it;
- ``supervm_storageAt``: a contract's storage, listed in key order a page at a time;
- ``supervm_addressTransactions``: the transactions touching an address, newest first, a page
  at a time (as Otterscan's ``ots_searchTransactionsBefore``);
- ``supervm_decodeTransaction``, ``supervm_decodeLogs``: calldata, logs and revert data decoded
  through the known ABIs (with the kernel's :mod:`supervm.tooling.abi`).

Values decoded from the ABI are JSON: integers as decimal strings (a ``uint256`` does not fit a
JavaScript number), addresses checksummed, bytes as ``0x`` hex, arrays and tuples as arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from supervm.chain.blocks import Block, BlockHeader
from supervm.chain.processor import TransactionExecutor
from supervm.chain.receipts import Receipt
from supervm.chain.transactions import Transaction
from supervm.execution.wasm_binary import WasmFormatError, split_create_data
from supervm.model import Log
from supervm.plugins.registry import RpcMethodRegistry
from supervm.services.rpc import RpcError, RpcParams
from supervm.services.service import ServiceContext, StashKey
from supervm.state.addresses import create_address
from supervm.state.keys import EMPTY_CODE_HASH, storage_prefix
from supervm.state.storage import prefix_end
from supervm.tooling import abi as ethabi
from supervm.tooling.abi import AbiItem
from supervm.tooling.artifacts import ArtifactError
from supervm.tooling.convert import data, quantity
from supervm_rpc import params as p
from supervm_rpc.backend import BACKEND, RpcBackend
from supervm_rpc.filters import SERVER_ERROR
from supervm_rpc.shapes import checksum_address

from .book import ArtifactBook, Known

#: Where the explorer service keeps the node's :class:`~supervm_explorer.book.ArtifactBook`.
ARTIFACTS: Final = StashKey[ArtifactBook]("explorer artifacts")

#: The most storage entries one ``supervm_storageAt`` returns, and its default page.
MAX_STORAGE_PAGE: Final = 1000
DEFAULT_STORAGE_PAGE: Final = 100
#: The most transactions one ``supervm_addressTransactions`` returns, its default page, and the
#: most blocks one call scans (a page ends early there, and says where to go on).
MAX_TX_PAGE: Final = 500
DEFAULT_TX_PAGE: Final = 25
MAX_SCAN_BLOCKS: Final = 5000

_WASM_MAGIC: Final = b"\0asm"
A0: Final = "invalid argument 0"
A1: Final = "invalid argument 1"
A2: Final = "invalid argument 2"


def _backend(context: ServiceContext) -> RpcBackend:
    backend = context.stash.get(BACKEND)
    if backend is None:
        raise RpcError(SERVER_ERROR, "the JSON-RPC server is not running")
    return backend


def _book(context: ServiceContext) -> ArtifactBook:
    book = context.stash.get(ARTIFACTS)
    if book is None:
        raise RpcError(SERVER_ERROR, "the explorer service is not running: no artifacts known")
    return book


# --- values ---------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """An eth-abi value as JSON: integers as decimal strings, bytes as hex, tuples as arrays."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return data(value)
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def _decode_params(params: Sequence[AbiItem], raw: bytes) -> list[dict[str, Any]] | None:
    """``raw`` decoded as ``params``' types, each value with its name and type; ``None`` if it
    does not decode."""
    types = [ethabi.canonical_type(param) for param in params]
    try:
        values = decode(types, raw) if types else ()
    except (DecodingError, TypeError, ValueError, OverflowError):
        return None
    return [
        {"name": str(param.get("name") or ""), "type": kind, "value": json_value(value)}
        for param, kind, value in zip(params, types, values, strict=True)
    ]


def artifact_summary(known: Known, *, abi: bool = False) -> dict[str, Any]:
    """What the explorer shows of an artifact (never its bytecode: it can be large)."""
    artifact = known.artifact
    out: dict[str, Any] = {
        "name": artifact.name,
        "kind": artifact.kind,
        "codeHash": data(known.key),
        "bytecodeSize": len(artifact.bytecode),
        "compiler": {"name": artifact.compiler.name, "version": artifact.compiler.version},
        "addresses": sorted(checksum_address(a) for a in known.addresses),
        "source": known.source,
    }
    if abi:
        out["abi"] = [dict(item) for item in artifact.abi]
    return out


# --- artifacts ------------------------------------------------------------------------------------


def supervm_register_artifact(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    """``supervm_registerArtifact(artifact, address?)``: know an artifact (the JSON object of
    an artifact file), optionally as the description of the contract at ``address``."""
    raw, raw_address = p.positional(params, 1, 1)
    address = None if raw_address is None else p.address(raw_address, A1)
    try:
        known = _book(context).add_json(raw, address)
    except ArtifactError as exc:
        raise p.invalid(f"{A0}: {exc}") from None
    return artifact_summary(known)


def supervm_get_artifacts(params: RpcParams, context: ServiceContext) -> list[dict[str, Any]]:
    """``supervm_getArtifacts()``: every known artifact, without ABIs."""
    p.positional(params, 0)
    return [artifact_summary(known) for known in _book(context)]


def supervm_get_artifact(params: RpcParams, context: ServiceContext) -> dict[str, Any] | None:
    """``supervm_getArtifact(address)``: the artifact describing the contract at ``address``,
    with its ABI, or ``null``."""
    (raw_address,) = p.positional(params, 1)
    who = p.address(raw_address, A0)
    state = _backend(context).state(p.LATEST)
    code_hash = state.code_hash(who)
    known = _book(context).for_contract(who, None if code_hash == EMPTY_CODE_HASH else code_hash)
    return None if known is None else artifact_summary(known, abi=True)


# --- accounts -------------------------------------------------------------------------------------


def code_kind(code: bytes) -> str | None:
    """``wasm`` or ``evm`` for a contract's code, ``None`` for an account without code."""
    if not code:
        return None
    return "wasm" if code[:4] == _WASM_MAGIC else "evm"


def supervm_contract_info(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    """``supervm_contractInfo(address, block?)``: balance, nonce, and for a contract its kind,
    code hash, code size and artifact (with its ABI)."""
    raw_address, ref = p.positional(params, 1, 1)
    who = p.address(raw_address, A0)
    state = _backend(context).state(p.block_ref(ref, A1))
    code = state.code(who)
    code_hash = state.code_hash(who)
    known = _book(context).for_contract(who, code_hash) if code else None
    return {
        "address": checksum_address(who),
        "balance": quantity(state.balance(who)),
        "nonce": quantity(state.nonce(who)),
        "kind": code_kind(code),
        "codeHash": data(code_hash),
        "codeSize": quantity(len(code)),
        "artifact": None if known is None else artifact_summary(known, abi=True),
    }


def supervm_storage_at(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    """``supervm_storageAt(address, startKey?, limit?)``: the contract's storage entries from
    ``startKey`` on, in key order (the head's state), and the key the next page starts at.

    An EVM slot is a 32-byte key and word; a WASM contract's keys and values are what its host
    calls wrote, any length.
    """
    raw_address, raw_start, raw_limit = p.positional(params, 1, 2)
    who = p.address(raw_address, A0)
    start = b"" if raw_start is None else p.data(raw_start, A1)
    limit = DEFAULT_STORAGE_PAGE if raw_limit is None else p.quantity(raw_limit, A2, limit=2**32)
    if not 1 <= limit <= MAX_STORAGE_PAGE:
        raise p.invalid(f"{A2}: limit must be between 1 and {MAX_STORAGE_PAGE}, got {limit}")
    prefix = storage_prefix(who)
    state = _backend(context).state(p.LATEST)
    entries: list[dict[str, str]] = []
    following = None
    for key, value in state.iterate(prefix + start, prefix_end(prefix)):
        if len(entries) == limit:
            following = data(key[len(prefix) :])
            break
        entries.append({"key": data(key[len(prefix) :]), "value": data(value)})
    return {"entries": entries, "next": following}


# --- transactions ---------------------------------------------------------------------------------


def _stored(backend: RpcBackend, header: BlockHeader) -> tuple[Block, tuple[Receipt, ...]]:
    """A block and its receipts, read without evicting the server's recent blocks (a scan
    through history would otherwise push out the blocks clients are asking about)."""
    store = backend.node.store
    block = store.block(header.hash)
    receipts = store.receipts(header.hash)
    if block is None or receipts is None:
        raise RpcError(SERVER_ERROR, f"block 0x{header.hash.hex()} has no stored body")
    return block, tuple(receipts)


def _gas_used(receipts: Sequence[Receipt], index: int) -> int:
    before = receipts[index - 1].cumulative_gas_used if index else 0
    return receipts[index].cumulative_gas_used - before


def _created(tx: Transaction, receipt: Receipt) -> bytes | None:
    if tx.to is not None or receipt.status != 1:
        return None
    return create_address(tx.sender, tx.nonce)


def _touches(who: bytes, tx: Transaction, receipt: Receipt) -> bool:
    if tx.sender == who or tx.to == who or _created(tx, receipt) == who:
        return True
    padded = who.rjust(32, b"\0")  # an indexed address argument: a token sent to ``who``
    return any(log.address == who or padded in log.topics[1:] for log in receipt.logs)


def supervm_address_transactions(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    """``supervm_addressTransactions(address, beforeBlock?, limit?)``: the transactions that
    sent from, went to, created, or logged ``address`` (as emitter or indexed argument), newest
    first, from the block before ``beforeBlock`` (default: the head) down.

    Whole blocks are returned, so a page may pass ``limit``; a page also ends after
    :data:`MAX_SCAN_BLOCKS` blocks. ``nextBlock`` is the ``beforeBlock`` of the next page
    (``null`` once the genesis was scanned).
    """
    raw_address, raw_before, raw_limit = p.positional(params, 1, 2)
    who = p.address(raw_address, A0)
    backend = _backend(context)
    head = backend.node.head.number
    before = head + 1 if raw_before is None else p.quantity(raw_before, A1, limit=2**64)
    limit = DEFAULT_TX_PAGE if raw_limit is None else p.quantity(raw_limit, A2, limit=2**32)
    if not 1 <= limit <= MAX_TX_PAGE:
        raise p.invalid(f"{A2}: limit must be between 1 and {MAX_TX_PAGE}, got {limit}")
    book = _book(context)
    store = backend.node.store
    found: list[dict[str, Any]] = []
    number = min(before, head + 1) - 1
    lowest = max(-1, number - MAX_SCAN_BLOCKS)
    while number > lowest and len(found) < limit:
        header = store.header_by_number(number)
        number -= 1
        if header is None or not header.gas_used:  # no transactions in it
            continue
        block, receipts = _stored(backend, header)
        for index in range(len(block.transactions) - 1, -1, -1):
            tx, receipt = block.transactions[index], receipts[index]
            if _touches(who, tx, receipt):
                found.append(_summary(book, block, receipts, index))
    return {"transactions": found, "nextBlock": None if number < 0 else quantity(number + 1)}


def _summary(
    book: ArtifactBook, block: Block, receipts: Sequence[Receipt], index: int
) -> dict[str, Any]:
    tx, receipt = block.transactions[index], receipts[index]
    created = _created(tx, receipt)
    method = None
    if tx.to is None:
        method = "create"
    elif len(tx.data) >= 4:
        match = book.function(tx.data[:4])
        method = str(match[1]["name"]) if match is not None else data(tx.data[:4])
    return {
        "hash": data(tx.hash),
        "blockNumber": quantity(block.header.number),
        "blockTimestamp": quantity(block.header.timestamp),
        "transactionIndex": quantity(index),
        "from": checksum_address(tx.sender),
        "to": None if tx.to is None else checksum_address(tx.to),
        "contractAddress": None if created is None else checksum_address(created),
        "value": quantity(tx.value),
        "status": quantity(receipt.status),
        "gasUsed": quantity(_gas_used(receipts, index)),
        "method": method,
    }


# --- decoding -------------------------------------------------------------------------------------


class _Decoder:
    """Decodes through the book, looking up each contract's code hash once (at the head)."""

    def __init__(self, backend: RpcBackend, book: ArtifactBook) -> None:
        self.book = book
        self._state = backend.state(p.LATEST)
        self._contracts: dict[bytes, Known | None] = {}

    def contract(self, address: bytes) -> Known | None:
        if address not in self._contracts:
            code_hash = self._state.code_hash(address)
            self._contracts[address] = self.book.for_contract(
                address, None if code_hash == EMPTY_CODE_HASH else code_hash
            )
        return self._contracts[address]

    def call(self, to: bytes, calldata: bytes) -> dict[str, Any] | None:
        if len(calldata) < 4:
            return None
        own = self.contract(to)
        match = self.book.function(calldata[:4], own)
        if match is None:
            return None
        known, item = match
        args = _decode_params(item.get("inputs", ()), calldata[4:])
        if args is None:
            return None
        return {
            "artifact": known.artifact.name,
            "function": str(item["name"]),
            "signature": ethabi.signature(item),
            "selector": data(calldata[:4]),
            "args": args,
            # Through the contract's own artifact, or only an ABI that has the selector.
            "exact": known is own,
        }

    def creation(self, calldata: bytes) -> dict[str, Any] | None:
        known = self.book.for_creation(calldata)
        if known is None:
            return None
        artifact = known.artifact
        if artifact.kind == "wasm":
            try:
                _, arguments = split_create_data(calldata)
            except (WasmFormatError, ValueError, IndexError):
                arguments = b""
        else:
            arguments = calldata[len(artifact.bytecode) :]
        ctor = ethabi.constructor(artifact.abi)
        args = _decode_params(ctor.get("inputs", ()), arguments) if ctor else []
        return {"artifact": artifact.name, "kind": artifact.kind, "args": args}

    def log(self, log: Log, log_index: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "logIndex": None if log_index is None else quantity(log_index),
            "address": checksum_address(log.address),
            "artifact": None,
            "event": None,
            "signature": None,
            "args": None,
        }
        own = self.contract(log.address)
        for known, abi in self.book.abis(own):
            decoded = _decode_event(abi, log)
            if decoded is not None:
                item, args = decoded
                out.update(
                    artifact=known.artifact.name,
                    event=str(item["name"]),
                    signature=ethabi.signature(item),
                    args=args,
                    exact=known is own,
                )
                break
        return out

    def revert(self, to: bytes | None, return_data: bytes) -> str | None:
        abi: list[AbiItem] = []
        own = self.contract(to) if to is not None else None
        for _known, items in self.book.abis(own):
            abi.extend(i for i in items if i.get("type") == "error")
        return ethabi.decode_revert(return_data, abi)


def _decode_event(abi: Sequence[AbiItem], log: Log) -> tuple[AbiItem, list[Any]] | None:
    """The event of ``abi`` that ``log`` is, with its arguments in declaration order, each
    marked indexed or not (an indexed string or array is only its hash)."""
    if not log.topics:
        return None
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        if ethabi.event_topic(item) != log.topics[0]:
            continue
        inputs = list(item.get("inputs", ()))
        indexed = [param for param in inputs if param.get("indexed")]
        if len(indexed) != len(log.topics) - 1:
            continue
        plain = _decode_params([param for param in inputs if not param.get("indexed")], log.data)
        if plain is None:
            continue
        values: list[Any] = []
        topics = iter(log.topics[1:])
        plain_values = iter(plain)
        failed = False
        for param in inputs:
            kind = ethabi.canonical_type(param)
            if param.get("indexed"):
                topic = next(topics)
                dynamic = kind in ("string", "bytes") or kind.endswith("]") or "(" in kind
                if dynamic:
                    value: Any = data(topic)
                else:
                    decoded = _decode_params([param], topic)
                    if decoded is None:
                        failed = True
                        break
                    value = decoded[0]["value"]
                values.append(
                    {
                        "name": str(param.get("name") or ""),
                        "type": kind,
                        "value": value,
                        "indexed": True,
                    }
                )
            else:
                values.append({**next(plain_values), "indexed": False})
        if not failed:
            return item, values
    return None


def _locate(backend: RpcBackend, tx_hash: bytes) -> tuple[Block, tuple[Receipt, ...], int] | None:
    store = backend.node.store
    location = store.transaction_location(tx_hash)
    if location is None:
        return None
    block_hash, index = location
    header = store.header(block_hash)
    if header is None:
        return None
    block, receipts = backend.block_and_receipts(header)
    return block, receipts, index


async def supervm_decode_transaction(
    params: RpcParams, context: ServiceContext
) -> dict[str, Any] | None:
    """``supervm_decodeTransaction(hash)``: a mined transaction's call (or creation), logs and,
    if it failed, revert reason, decoded through the known artifacts; ``null`` for a
    transaction not in a block.

    A failed transaction's revert data is not in its receipt: the block is replayed up to it
    on the parent block's state (in the writer thread), as Otterscan asks Erigon to.
    """
    (raw_hash,) = p.positional(params, 1)
    tx_hash = p.hash32(raw_hash, A0)
    backend = _backend(context)
    located = _locate(backend, tx_hash)
    if located is None:
        return None
    block, receipts, index = located
    tx, receipt = block.transactions[index], receipts[index]
    decoder = _Decoder(backend, _book(context))
    first_log = sum(len(r.logs) for r in receipts[:index])
    created = _created(tx, receipt)
    target = tx.to if tx.to is not None else created
    own = decoder.contract(target) if target is not None else None
    out: dict[str, Any] = {
        "hash": data(tx.hash),
        "status": quantity(receipt.status),
        "contract": None
        if target is None
        else {
            "address": checksum_address(target),
            "artifact": None if own is None else own.artifact.name,
        },
        "call": decoder.call(tx.to, tx.data) if tx.to is not None else None,
        "creation": decoder.creation(tx.data) if tx.to is None else None,
        "logs": [decoder.log(log, first_log + i) for i, log in enumerate(receipt.logs)],
        "revertReason": None,
        "returnData": None,
        "error": None,
    }
    if receipt.status == 0:
        result = await _replay(backend, block, index)
        if result is not None:
            out["returnData"] = data(result.return_data)
            if result.error is not None:
                out["error"] = f"{result.error.kind}: {result.error.message}"
            out["revertReason"] = decoder.revert(tx.to, result.return_data)
    return out


async def _replay(backend: RpcBackend, block: Block, index: int) -> Any:
    """Execute ``block``'s transactions up to ``index`` again on its parent's state; the
    result of transaction ``index`` (``None`` if the parent's state cannot be read)."""
    node = backend.node
    parent = node.store.header(block.header.parent_hash)
    if parent is None:
        return None

    def replay(chain: Any) -> Any:
        try:
            state = node.state(parent)
        except Exception:  # the parent's trie nodes are gone: nothing to replay on
            return None
        executor = TransactionExecutor(chain.kernel, node.env_of(block.header))
        for earlier in block.transactions[:index]:
            executor(earlier, state)
        return executor(block.transactions[index], state)

    return await node.write(replay)


def supervm_decode_logs(params: RpcParams, context: ServiceContext) -> list[dict[str, Any]]:
    """``supervm_decodeLogs(logs)``: log objects (as ``eth_getLogs`` returns them: ``address``,
    ``topics``, ``data``) decoded into events; a log no known ABI has an event for comes back
    with ``event: null``."""
    (raw_logs,) = p.positional(params, 1)
    if not isinstance(raw_logs, list):
        raise p.invalid(f"{A0}: expected an array of log objects")
    if len(raw_logs) > 10_000:
        raise p.invalid(f"{A0}: at most 10000 logs at once, got {len(raw_logs)}")
    decoder = _Decoder(_backend(context), _book(context))
    out = []
    for i, raw in enumerate(raw_logs):
        where = f"{A0}: log {i}"
        if not isinstance(raw, dict):
            raise p.invalid(f"{where}: expected an object")
        topics = raw.get("topics", [])
        if not isinstance(topics, list) or len(topics) > 4:
            raise p.invalid(f"{where}: topics must be an array of at most 4 hashes")
        log = Log(
            address=p.address(raw.get("address"), where),
            topics=tuple(p.hash32(t, where) for t in topics),
            data=p.data(raw.get("data", "0x"), where),
        )
        raw_index = raw.get("logIndex")
        log_index = None if raw_index is None else p.quantity(raw_index, where, limit=2**64)
        out.append(decoder.log(log, log_index))
    return out


#: Every method this plugin registers, by name.
METHODS: Final[dict[str, Callable[[RpcParams, ServiceContext], Any]]] = {
    "supervm_registerArtifact": supervm_register_artifact,
    "supervm_getArtifacts": supervm_get_artifacts,
    "supervm_getArtifact": supervm_get_artifact,
    "supervm_contractInfo": supervm_contract_info,
    "supervm_storageAt": supervm_storage_at,
    "supervm_addressTransactions": supervm_address_transactions,
    "supervm_decodeTransaction": supervm_decode_transaction,
    "supervm_decodeLogs": supervm_decode_logs,
}


def register(registry: RpcMethodRegistry) -> None:
    """Add :data:`METHODS` to ``registry``."""
    for name, handler in METHODS.items():
        registry.add_method(name, handler)
