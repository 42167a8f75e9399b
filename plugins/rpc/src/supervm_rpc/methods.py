"""The ``web3``, ``net``, ``eth`` and ``txpool`` methods, registered through
``supervm_register_rpc_methods`` like any plugin's.

Each handler is ``handler(params, context)``: it reads its arguments with :mod:`.params`, the
node through the :class:`~supervm_rpc.backend.RpcBackend` in the stash, and answers the execution
API's shapes (:mod:`supervm.tooling.convert`, :mod:`.shapes`). Errors are
:class:`~supervm.services.rpc.RpcError`: -32602 for bad arguments, -32000 for what the node
refuses (with geth's wording), 3 for a revert.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

import coincurve
from supervm.chain.blocks import BlockHeader
from supervm.chain.pipeline import next_base_fee
from supervm.chain.receipts import Receipt
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    Transaction,
    TransactionError,
    UnsignedTransaction,
    decode_transaction,
    fee_cap,
    sign_transaction,
)
from supervm.crypto import keccak256
from supervm.model import ErrorKind
from supervm.node.access import CallFailed, CallRequest, HistoricalStateError
from supervm.node.peers import NETWORK_STATUS
from supervm.node.pool import PoolRejected, TransactionPoolService
from supervm.plugins.registry import RpcMethodRegistry
from supervm.services.rpc import METHOD_NOT_FOUND, RpcError, RpcParams
from supervm.services.service import ServiceContext
from supervm.state.root import EMPTY_CODE_HASH
from supervm.state.trie import EMPTY_ROOT
from supervm.tooling.abi import ERROR_SELECTOR, decode_revert
from supervm.tooling.convert import block_to_json, data, quantity, transaction_to_json

from . import params as p
from .automine import BATCH_INCLUSIONS
from .backend import BACKEND, CONNECTION, RpcBackend, header_not_found
from .filters import SERVER_ERROR, SUBSCRIPTION_KINDS, log_criteria, matching_logs
from .prefetch import KNOWN_SENDERS
from .shapes import checksum_address, effective_gas_price, receipt_to_json

#: The error code of a reverted call (geth, and the execution API's ``eth_call`` errors).
REVERT_CODE: Final = 3
#: EIP-1474's "limit exceeded".
LIMIT_EXCEEDED: Final = -32005
#: The most blocks one eth_getLogs may scan.
MAX_LOG_RANGE: Final = 10_000
#: The most logs one eth_getLogs may return.
MAX_LOG_RESULTS: Final = 10_000
#: The most blocks eth_feeHistory reports (geth's ``maxBlockFetchers``-bounded 1024).
MAX_FEE_HISTORY: Final = 1024
#: The priority fee suggested to senders (Hardhat's and anvil's 1 gwei): a dev or
#: proof-of-authority chain has no fee market for an oracle to read.
SUGGESTED_TIP: Final = 10**9

A0: Final = "invalid argument 0"
A1: Final = "invalid argument 1"
A2: Final = "invalid argument 2"


def _backend(context: ServiceContext) -> RpcBackend:
    return context.stash[BACKEND]


def client_version() -> str:
    """``SuperVM/v<version>/<os>-<arch>/python<version>``, in geth's layout."""
    try:
        own = version("supervm")
    except PackageNotFoundError:  # running from a source tree without metadata
        own = "0.0.0"
    system = f"{platform.system().lower()}-{platform.machine().lower()}"
    return f"SuperVM/v{own}/{system}/python{platform.python_version()}"


# --- web3, net ------------------------------------------------------------------------------------


def web3_client_version(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return client_version()


def web3_sha3(params: RpcParams, context: ServiceContext) -> str:
    (raw,) = p.positional(params, 1)
    return data(keccak256(p.data(raw, A0)))


def net_version(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return str(_backend(context).chain_id)


def net_listening(params: RpcParams, context: ServiceContext) -> bool:
    p.positional(params, 0)
    return True


def net_peer_count(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    status = context.stash.get(NETWORK_STATUS)
    return quantity(0 if status is None else status.peer_count())


# --- chain ----------------------------------------------------------------------------------------


def eth_chain_id(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return quantity(_backend(context).chain_id)


def eth_syncing(params: RpcParams, context: ServiceContext) -> bool | dict[str, str]:
    p.positional(params, 0)
    status = context.stash.get(NETWORK_STATUS)
    progress = None if status is None else status.sync_progress()
    if progress is None:
        return False
    current = _backend(context).node.head.number
    return {
        "startingBlock": quantity(progress.starting_block),
        "currentBlock": quantity(current),
        "highestBlock": quantity(max(current, progress.highest_block)),
    }


def eth_block_number(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return quantity(_backend(context).node.head.number)


def eth_accounts(params: RpcParams, context: ServiceContext) -> list[str]:
    p.positional(params, 0)
    return [data(a.address) for a in _backend(context).node.accounts]


# --- state ----------------------------------------------------------------------------------------


def eth_get_balance(params: RpcParams, context: ServiceContext) -> str:
    raw_address, ref = p.positional(params, 1, 1)
    who = p.address(raw_address, A0)
    return quantity(_backend(context).state(p.block_ref(ref, A1)).balance(who))


def eth_get_transaction_count(params: RpcParams, context: ServiceContext) -> str:
    raw_address, ref = p.positional(params, 1, 1)
    who = p.address(raw_address, A0)
    backend = _backend(context)
    block = p.block_ref(ref, A1)
    if block.tag == "pending" and backend.pool is not None:
        return quantity(backend.pool.pending_nonce(who))
    return quantity(backend.state(block).nonce(who))


def eth_get_code(params: RpcParams, context: ServiceContext) -> str:
    raw_address, ref = p.positional(params, 1, 1)
    who = p.address(raw_address, A0)
    return data(_backend(context).state(p.block_ref(ref, A1)).code(who))


def eth_get_storage_at(params: RpcParams, context: ServiceContext) -> str:
    raw_address, raw_slot, ref = p.positional(params, 2, 1)
    who = p.address(raw_address, A0)
    slot = p.storage_slot(raw_slot, A1)
    value = _backend(context).state(p.block_ref(ref, A2)).storage(who, slot) or b""
    # A 32-byte word, as for EVM slots; a longer WASM value is shown whole.
    return data(value.rjust(32, b"\0"))


async def eth_get_proof(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    raw_address, raw_slots, ref = p.positional(params, 2, 1)
    who = p.address(raw_address, A0)
    if not isinstance(raw_slots, list):
        raise p.invalid(f"{A1}: expected an array of storage keys")
    slots = [(k, p.storage_slot(k, A1)) for k in raw_slots]
    backend = _backend(context)
    header = backend.state_header(p.block_ref(ref, A2))

    def prove(chain: Any) -> dict[str, Any]:
        # The block's own state root over the stored trie nodes: any block's state is provable,
        # and the writer's root (which moves with every block) is never read here.
        root = chain.open_root(header.state_root)
        account = root.account(who)
        storage_proof = []
        for given, slot in slots:
            value = root.storage(who, slot) if account is not None else None
            storage_proof.append(
                {
                    "key": given if isinstance(given, str) else data(slot),
                    "value": quantity(int.from_bytes(value or b"", "big")),
                    "proof": [data(n) for n in root.storage_proof(who, slot)]
                    if account is not None
                    else [],
                }
            )
        return {
            "address": data(who),
            "accountProof": [data(n) for n in root.account_proof(who)],
            "balance": quantity(account.balance if account else 0),
            "codeHash": data(account.code_hash if account else EMPTY_CODE_HASH),
            "nonce": quantity(account.nonce if account else 0),
            "storageHash": data(account.storage_root if account else EMPTY_ROOT),
            "storageProof": storage_proof,
        }

    return await backend.node.write(prove)


# --- fees -----------------------------------------------------------------------------------------


def eth_gas_price(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return quantity(next_base_fee(_backend(context).node.head) + SUGGESTED_TIP)


def eth_max_priority_fee_per_gas(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return quantity(SUGGESTED_TIP)


def eth_fee_history(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    raw_count, raw_newest, raw_percentiles = p.positional(params, 2, 1)
    count = p.quantity(raw_count, A0, limit=2**64)
    backend = _backend(context)
    newest = backend.header(p.block_number(raw_newest, A1))
    if newest is None:
        raise header_not_found()
    percentiles: list[float] = []
    if raw_percentiles is not None:
        if not isinstance(raw_percentiles, list):
            raise p.invalid(f"{A2}: expected an array of reward percentiles")
        for i, value in enumerate(raw_percentiles):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise p.invalid(f"{A2}: reward percentile {i} is not a number")
            if not 0 <= value <= 100 or (percentiles and value < percentiles[-1]):
                raise p.invalid(
                    f"{A2}: invalid reward percentile: #{i}:{value} (percentiles are between 0 "
                    "and 100, in increasing order)"
                )
            percentiles.append(float(value))
    count = min(count, MAX_FEE_HISTORY, newest.number + 1)
    oldest = newest.number - count + 1
    headers: list[BlockHeader] = []
    for number in range(oldest, newest.number + 1):
        header = newest if number == newest.number else backend.node.store.header_by_number(number)
        if header is None:
            raise header_not_found()
        headers.append(header)
    out: dict[str, Any] = {
        "oldestBlock": quantity(oldest if count else newest.number),
        "baseFeePerGas": [quantity(h.base_fee_per_gas or 0) for h in headers]
        + [quantity(next_base_fee(newest))],
        "gasUsedRatio": [h.gas_used / h.gas_limit if h.gas_limit else 0.0 for h in headers],
        "baseFeePerBlobGas": ["0x0"] * (len(headers) + 1),
        "blobGasUsedRatio": [0.0] * len(headers),
    }
    if raw_percentiles is not None:
        out["reward"] = [_rewards(backend, h, percentiles) for h in headers]
    return out


def _rewards(backend: RpcBackend, header: BlockHeader, percentiles: list[float]) -> list[str]:
    """The tips paid at each gas-weighted percentile of a block (geth's feeHistory rule)."""
    if not header.gas_used or not percentiles:
        return ["0x0"] * len(percentiles)
    block, receipts = backend.block_and_receipts(header)
    base_fee = header.base_fee_per_gas or 0
    used = []
    previous = 0
    for tx, receipt in zip(block.transactions, receipts, strict=False):
        used.append(
            (effective_gas_price(tx, base_fee) - base_fee, receipt.cumulative_gas_used - previous)
        )
        previous = receipt.cumulative_gas_used
    used.sort()
    out = []
    index, total = 0, used[0][1] if used else 0
    for percentile in percentiles:
        threshold = header.gas_used * percentile / 100
        while total < threshold and index < len(used) - 1:
            index += 1
            total += used[index][1]
        out.append(quantity(used[index][0]) if used else "0x0")
    return out


# --- calls ----------------------------------------------------------------------------------------


def _call_request(obj: p.CallObject) -> CallRequest:
    return CallRequest(
        sender=obj.sender if obj.sender is not None else bytes(20),
        to=obj.to,
        data=obj.data,
        value=obj.value,
        gas=obj.gas,
    )


def _no_overrides(args: list[Any]) -> None:
    if any(a is not None for a in args):
        raise p.invalid("state and block overrides are not supported by SuperVM")


def revert_error(return_data: bytes) -> RpcError:
    """The execution API's revert error: code 3, ``execution reverted[: reason]``, the revert
    data in hex as ``data``."""
    message = "execution reverted"
    if return_data[:4] == ERROR_SELECTOR:
        reason = decode_revert(return_data)
        if reason is not None:
            message += f": {reason}"
    return RpcError(REVERT_CODE, message, data(return_data))


def _failure(result: Any, gas_cap: int | None = None) -> RpcError:
    error = result.error
    if error.kind is ErrorKind.REVERT:
        return revert_error(result.return_data)
    if gas_cap is not None and error.kind is ErrorKind.OUT_OF_GAS:
        return RpcError(SERVER_ERROR, f"gas required exceeds allowance ({gas_cap})")
    if result.rejected:
        return RpcError(SERVER_ERROR, result.rejected)
    if error.kind is ErrorKind.OUT_OF_GAS:
        return RpcError(SERVER_ERROR, f"out of gas: {error.message}")
    return RpcError(SERVER_ERROR, f"execution failed: {error}")


async def _in_writer(
    backend: RpcBackend, ref: p.BlockRef, work: Callable[[BlockHeader], Any]
) -> Any:
    """Run ``work(header)`` (a call or an estimate on block ``ref``) in the chain's writer
    thread.

    Off the event loop, so a long call holds up no other client; and in the writer thread,
    between blocks, because the execution backends keep per-call state on themselves (the WASM
    backend's frame slot) and must not run a call while a block executes in another thread.
    ``ref`` is resolved there too, so ``latest`` is the head the call runs on even if a block
    was sealed while the call waited.
    """

    def job(_chain: object) -> Any:
        return work(backend.state_header(ref))

    try:
        return await backend.node.write(job)
    except HistoricalStateError as exc:
        raise RpcError(SERVER_ERROR, str(exc)) from None


async def eth_call(params: RpcParams, context: ServiceContext) -> str:
    raw_call, ref, *overrides = p.positional(params, 1, 3)
    obj = p.call_object(raw_call, A0)
    _no_overrides(overrides)
    backend = _backend(context)
    block = p.block_ref(ref, A1)
    backend.state_header(block)  # a block that is not there, or historical: say so at once
    request = _call_request(obj)
    result = await _in_writer(backend, block, lambda header: backend.node.call(request, header))
    if result.error is not None:
        raise _failure(result)
    return data(result.return_data)


async def eth_estimate_gas(params: RpcParams, context: ServiceContext) -> str:
    raw_call, ref, *overrides = p.positional(params, 1, 2)
    obj = p.call_object(raw_call, A0)
    _no_overrides(overrides)
    backend = _backend(context)
    block = p.block_ref(ref, A1)
    header = backend.state_header(block)
    request = _call_request(obj)
    cap = min(obj.gas if obj.gas is not None else header.gas_limit, backend.node.gas_cap)
    try:
        gas = await _in_writer(
            backend, block, lambda head: backend.node.estimate_gas(request, head)
        )
    except CallFailed as exc:
        raise _failure(exc.result, cap) from None
    return quantity(gas)


# --- transactions ---------------------------------------------------------------------------------


def _transaction_error(exc: TransactionError) -> RpcError:
    """A decoding or validation failure in geth's words, with SuperVM's detail after them."""
    message = str(exc)
    if message.startswith("invalid RLP: "):
        message = "rlp: " + message.removeprefix("invalid RLP: ")
    elif message.startswith("transaction type "):
        message = "transaction type not supported: " + message.removeprefix("transaction ")
    return RpcError(SERVER_ERROR, message)


def _submit(backend: RpcBackend, tx: Transaction) -> str | Awaitable[str]:
    pool = backend.require_pool()
    try:
        tx_hash = pool.submit(tx)
    except PoolRejected as exc:
        raise RpcError(SERVER_ERROR, exc.reason) from None
    if backend.config.automining and _sealable(backend, pool, tx):
        return _once_sealed(backend, tx_hash)
    return "0x" + tx_hash.hex()


def _sealable(backend: RpcBackend, pool: TransactionPoolService, tx: Transaction) -> bool:
    """Whether the next block can include ``tx``: its nonce is in its sender's pending run
    (no gap before it) and its fee cap covers the next base fee. Otherwise an automining send
    answers at once, as without automining: the transaction waits in the pool (queued, or
    underpriced) until something else changes."""
    if tx.nonce >= pool.pending_nonce(tx.sender):
        return False
    return fee_cap(tx) >= next_base_fee(backend.node.head)


async def _once_sealed(backend: RpcBackend, tx_hash: bytes) -> str:
    """The send's answer once its block is sealed (automining); in a batch, the wait is the
    batch's, after its last call (:data:`~.automine.BATCH_INCLUSIONS`)."""
    wait = backend.inclusions().wait(tx_hash)
    batch = BATCH_INCLUSIONS.get()
    if batch is None:
        await wait
    else:
        batch.append(wait)
    return "0x" + tx_hash.hex()


def eth_send_raw_transaction(params: RpcParams, context: ServiceContext) -> str | Awaitable[str]:
    # The node benchmark's hot path: a batch of a thousand of these. Decoding and recovering
    # the sender are the cost; nothing here adds a pass over the transaction.
    sender = None
    if type(params) is list and len(params) == 1 and type(params[0]) is str:
        text = params[0]
        try:
            if not text.startswith("0x"):
                raise ValueError
            raw = bytes.fromhex(text[2:])
        except ValueError:
            raw = p.data(text, A0)  # names what is wrong
        known = KNOWN_SENDERS.get()
        if known is not None:
            sender = known.get(text)  # recovered ahead by the batch's worker
    else:
        (value,) = p.positional(params, 1)
        raw = p.data(value, A0)
    backend = context.stash[BACKEND]
    pool = backend.require_pool()
    if raw[:1] == b"\x03":
        # Blocks may hold blob transactions (the chain core imports them), but a pool needs
        # their blob sidecars to gossip them, which this node does not carry (EIP-4844).
        raise RpcError(
            SERVER_ERROR,
            "transaction type not supported: blob transactions (type 3, EIP-4844) need blob "
            "sidecars, which this node's pool does not carry",
        )
    try:
        tx = decode_transaction(raw, chain_id=backend.node.chain_id, sender=sender)
    except TransactionError as exc:
        raise _transaction_error(exc) from None
    if backend.config.automining:
        return _submit(backend, tx)
    try:
        return "0x" + pool.submit(tx).hex()
    except PoolRejected as exc:
        raise RpcError(SERVER_ERROR, exc.reason) from None


def _account_key(backend: RpcBackend, who: bytes) -> bytes:
    for account in backend.node.accounts:
        if account.address == who:
            return account.private_key
    raise RpcError(SERVER_ERROR, f"unknown account 0x{who.hex()}: this node holds no key for it")


async def eth_send_transaction(params: RpcParams, context: ServiceContext) -> str:
    (raw_call,) = p.positional(params, 1)
    obj = p.call_object(raw_call, A0)
    if obj.sender is None:
        raise p.invalid(f'{A0}: "from" is required to send a transaction')
    backend = _backend(context)
    key = _account_key(backend, obj.sender)
    pool = backend.require_pool()
    chain_id = backend.chain_id
    if obj.chain_id is not None and obj.chain_id != chain_id:
        raise RpcError(
            SERVER_ERROR, f"chainId does not match node's (have={obj.chain_id}, want={chain_id})"
        )
    nonce = obj.nonce if obj.nonce is not None else pool.pending_nonce(obj.sender)
    gas = obj.gas
    if gas is None:
        request = _call_request(obj)
        try:
            gas = await _in_writer(
                backend, p.LATEST, lambda head: backend.node.estimate_gas(request, head)
            )
        except CallFailed as exc:
            raise _failure(exc.result, backend.node.gas_cap) from None
    legacy = obj.gas_price is not None and obj.max_fee_per_gas is None
    try:
        if legacy or obj.type in (LEGACY_TX_TYPE, 1):
            unsigned = UnsignedTransaction(
                type=obj.type if obj.type in (LEGACY_TX_TYPE, 1) else LEGACY_TX_TYPE,
                chain_id=chain_id,
                nonce=nonce,
                gas_price=obj.gas_price
                if obj.gas_price is not None
                else next_base_fee(backend.node.head) + SUGGESTED_TIP,
                gas=gas,
                to=obj.to,
                value=obj.value,
                data=obj.data,
                access_list=obj.access_list if obj.type == 1 else (),
            )
        else:
            tip = (
                obj.max_priority_fee_per_gas
                if obj.max_priority_fee_per_gas is not None
                else SUGGESTED_TIP
            )
            cap = (
                obj.max_fee_per_gas
                if obj.max_fee_per_gas is not None
                else 2 * next_base_fee(backend.node.head) + tip
            )
            unsigned = UnsignedTransaction(
                type=DYNAMIC_FEE_TX_TYPE,
                chain_id=chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=min(tip, cap),
                max_fee_per_gas=cap,
                gas=gas,
                to=obj.to,
                value=obj.value,
                data=obj.data,
                access_list=obj.access_list,
            )
        tx = sign_transaction(unsigned, key)
    except TransactionError as exc:
        raise _transaction_error(exc) from None
    answer = _submit(backend, tx)
    return answer if isinstance(answer, str) else await answer


def eth_sign(params: RpcParams, context: ServiceContext) -> str:
    raw_address, raw_message = p.positional(params, 2)
    who = p.address(raw_address, A0)
    message = p.data(raw_message, A1)
    key = _account_key(_backend(context), who)
    digest = keccak256(b"\x19Ethereum Signed Message:\n%d" % len(message) + message)
    signature = coincurve.PrivateKey(key).sign_recoverable(digest, hasher=None)
    # r || s || v with v = 27 + parity, as geth's eth_sign returns it.
    return data(signature[:64] + bytes((27 + signature[64],)))


def _located(backend: RpcBackend, tx_hash: bytes) -> tuple[Any, tuple[Receipt, ...], int] | None:
    location = backend.node.store.transaction_location(tx_hash)
    if location is None:
        return None
    block_hash, index = location
    header = backend.node.store.header(block_hash)
    if header is None:
        return None
    block, receipts = backend.block_and_receipts(header)
    return block, receipts, index


def eth_get_transaction_by_hash(params: RpcParams, context: ServiceContext) -> Any:
    (raw_hash,) = p.positional(params, 1)
    tx_hash = p.hash32(raw_hash, A0)
    backend = _backend(context)
    found = _located(backend, tx_hash)
    if found is not None:
        block, _receipts, index = found
        return transaction_to_json(block.transactions[index], block, index)
    pool = backend.pool
    pooled = pool.get(tx_hash) if pool is not None else None
    return None if pooled is None else transaction_to_json(pooled)


def eth_get_transaction_receipt(params: RpcParams, context: ServiceContext) -> Any:
    (raw_hash,) = p.positional(params, 1)
    found = _located(_backend(context), p.hash32(raw_hash, A0))
    if found is None:
        return None
    block, receipts, index = found
    return receipt_to_json(block, receipts, index)


def _by_index(backend: RpcBackend, header: BlockHeader | None, raw_index: object) -> Any:
    index = p.quantity(raw_index, A1, limit=2**64)
    if header is None:
        return None
    block = backend.block(header)
    if index >= len(block.transactions):
        return None
    return transaction_to_json(block.transactions[index], block, index)


def eth_get_transaction_by_block_number_and_index(
    params: RpcParams, context: ServiceContext
) -> Any:
    ref, raw_index = p.positional(params, 2)
    backend = _backend(context)
    return _by_index(backend, backend.header(p.block_number(ref, A0)), raw_index)


def eth_get_transaction_by_block_hash_and_index(params: RpcParams, context: ServiceContext) -> Any:
    raw_hash, raw_index = p.positional(params, 2)
    backend = _backend(context)
    return _by_index(backend, backend.node.store.header(p.hash32(raw_hash, A0)), raw_index)


# --- blocks ---------------------------------------------------------------------------------------


def _block_json(backend: RpcBackend, header: BlockHeader | None, full: bool) -> Any:
    if header is None:
        return None
    return block_to_json(backend.block(header), full)


def eth_get_block_by_number(params: RpcParams, context: ServiceContext) -> Any:
    ref, full = p.positional(params, 1, 1)
    backend = _backend(context)
    header = backend.header(p.block_number(ref, A0))
    return _block_json(backend, header, p.boolean(full, A1))


def eth_get_block_by_hash(params: RpcParams, context: ServiceContext) -> Any:
    raw_hash, full = p.positional(params, 1, 1)
    backend = _backend(context)
    header = backend.node.store.header(p.hash32(raw_hash, A0))
    return _block_json(backend, header, p.boolean(full, A1))


def eth_get_block_transaction_count_by_number(params: RpcParams, context: ServiceContext) -> Any:
    (ref,) = p.positional(params, 1)
    backend = _backend(context)
    header = backend.header(p.block_number(ref, A0))
    return None if header is None else quantity(len(backend.block(header).transactions))


def eth_get_block_transaction_count_by_hash(params: RpcParams, context: ServiceContext) -> Any:
    (raw_hash,) = p.positional(params, 1)
    backend = _backend(context)
    header = backend.node.store.header(p.hash32(raw_hash, A0))
    return None if header is None else quantity(len(backend.block(header).transactions))


# --- logs and filters -----------------------------------------------------------------------------


def _logs(backend: RpcBackend, criteria: Any) -> list[dict[str, Any]]:
    store = backend.node.store
    if criteria.block_hash is not None:
        header = store.header(criteria.block_hash)
        if header is None:
            raise RpcError(SERVER_ERROR, "unknown block")
        block, receipts = backend.block_and_receipts(header)
        return matching_logs(block, receipts, criteria)
    head = backend.node.head.number
    low = backend.number(criteria.from_block)
    high = backend.number(criteria.to_block)
    if (
        low > high
        and criteria.from_block.number is not None
        and criteria.to_block.number is not None
    ):
        raise RpcError(SERVER_ERROR, "invalid block range params")
    # The limit is on the range asked for, so that a query's fate does not depend on how far
    # the chain has grown.
    if high - low + 1 > MAX_LOG_RANGE:
        raise RpcError(
            LIMIT_EXCEEDED,
            f"block range too large: {high - low + 1} blocks, at most {MAX_LOG_RANGE} per "
            "query (split the range)",
        )
    high = min(high, head)
    if low > high:
        return []
    out: list[dict[str, Any]] = []
    for number in range(low, high + 1):
        header = store.header_by_number(number)
        if header is None or not criteria.may_match(header.logs_bloom):
            continue
        block, receipts = backend.block_and_receipts(header)
        out.extend(matching_logs(block, receipts, criteria))
        if len(out) > MAX_LOG_RESULTS:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"query returned more than {MAX_LOG_RESULTS} results (narrow the range or the "
                "criteria)",
            )
    return out


def eth_get_logs(params: RpcParams, context: ServiceContext) -> list[dict[str, Any]]:
    (raw,) = p.positional(params, 1)
    return _logs(_backend(context), log_criteria(raw, A0))


def eth_new_filter(params: RpcParams, context: ServiceContext) -> str:
    (raw,) = p.positional(params, 1)
    criteria = log_criteria(raw, A0, allow_range=False)
    backend = _backend(context)

    def bound(ref: p.BlockRef) -> int | None:
        # latest and pending leave the range open: the filter follows the head.
        if ref.tag in ("latest", "pending"):
            return None
        return backend.number(ref)

    return backend.filters.install(
        "logs", criteria, bound(criteria.from_block), bound(criteria.to_block)
    )


def eth_new_block_filter(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0)
    return _backend(context).filters.install("blocks")


def eth_new_pending_transaction_filter(params: RpcParams, context: ServiceContext) -> str:
    p.positional(params, 0, 1)
    return _backend(context).filters.install("pending")


def eth_get_filter_changes(params: RpcParams, context: ServiceContext) -> list[Any]:
    (filter_id,) = p.positional(params, 1)
    return _backend(context).filters.changes(filter_id)


def eth_get_filter_logs(params: RpcParams, context: ServiceContext) -> list[Any]:
    (filter_id,) = p.positional(params, 1)
    backend = _backend(context)
    found = backend.filters.get(filter_id)
    if found.kind != "logs" or found.criteria is None:
        raise RpcError(SERVER_ERROR, "filter not found")  # geth's words for a non-log filter
    return _logs(backend, found.criteria)


def eth_uninstall_filter(params: RpcParams, context: ServiceContext) -> bool:
    (filter_id,) = p.positional(params, 1)
    return _backend(context).filters.uninstall(filter_id)


def eth_subscribe(params: RpcParams, context: ServiceContext) -> str:
    connection = CONNECTION.get()
    if connection is None:
        raise RpcError(METHOD_NOT_FOUND, "notifications not supported")
    kind, options = p.positional(params, 1, 1)
    if kind not in SUBSCRIPTION_KINDS:
        raise p.invalid(f"{A0}: no subscription {kind!r} (known: {', '.join(SUBSCRIPTION_KINDS)})")
    criteria = None
    full = False
    if kind == "logs":
        criteria = log_criteria(options, A1, allow_range=False)
    elif kind == "newPendingTransactions":
        full = p.boolean(options, A1)
    elif options is not None:
        raise p.invalid(f"{A1}: {kind} takes no options")
    return _backend(context).subscriptions.subscribe(connection, kind, criteria, full)


def eth_unsubscribe(params: RpcParams, context: ServiceContext) -> bool:
    connection = CONNECTION.get()
    if connection is None:
        raise RpcError(METHOD_NOT_FOUND, "notifications not supported")
    (subscription_id,) = p.positional(params, 1)
    return _backend(context).subscriptions.unsubscribe(connection, subscription_id)


# --- txpool ---------------------------------------------------------------------------------------


def txpool_status(params: RpcParams, context: ServiceContext) -> dict[str, str]:
    p.positional(params, 0)
    pending, queued = _backend(context).require_pool().stats()
    return {"pending": quantity(pending), "queued": quantity(queued)}


def txpool_content(params: RpcParams, context: ServiceContext) -> dict[str, Any]:
    p.positional(params, 0)
    pending, queued = _backend(context).require_pool().content()

    def shape(groups: dict[bytes, list[Transaction]]) -> dict[str, dict[str, Any]]:
        return {
            checksum_address(sender): {str(tx.nonce): transaction_to_json(tx) for tx in txs}
            for sender, txs in groups.items()
        }

    return {"pending": shape(pending), "queued": shape(queued)}


#: Every method this plugin registers, by name.
METHODS: Final[dict[str, Callable[[RpcParams, ServiceContext], Any]]] = {
    "web3_clientVersion": web3_client_version,
    "web3_sha3": web3_sha3,
    "net_version": net_version,
    "net_listening": net_listening,
    "net_peerCount": net_peer_count,
    "eth_chainId": eth_chain_id,
    "eth_syncing": eth_syncing,
    "eth_blockNumber": eth_block_number,
    "eth_accounts": eth_accounts,
    "eth_getBalance": eth_get_balance,
    "eth_getTransactionCount": eth_get_transaction_count,
    "eth_getCode": eth_get_code,
    "eth_getStorageAt": eth_get_storage_at,
    "eth_getProof": eth_get_proof,
    "eth_gasPrice": eth_gas_price,
    "eth_maxPriorityFeePerGas": eth_max_priority_fee_per_gas,
    "eth_feeHistory": eth_fee_history,
    "eth_call": eth_call,
    "eth_estimateGas": eth_estimate_gas,
    "eth_sendRawTransaction": eth_send_raw_transaction,
    "eth_sendTransaction": eth_send_transaction,
    "eth_sign": eth_sign,
    "eth_getTransactionByHash": eth_get_transaction_by_hash,
    "eth_getTransactionByBlockNumberAndIndex": eth_get_transaction_by_block_number_and_index,
    "eth_getTransactionByBlockHashAndIndex": eth_get_transaction_by_block_hash_and_index,
    "eth_getTransactionReceipt": eth_get_transaction_receipt,
    "eth_getBlockByNumber": eth_get_block_by_number,
    "eth_getBlockByHash": eth_get_block_by_hash,
    "eth_getBlockTransactionCountByNumber": eth_get_block_transaction_count_by_number,
    "eth_getBlockTransactionCountByHash": eth_get_block_transaction_count_by_hash,
    "eth_getLogs": eth_get_logs,
    "eth_newFilter": eth_new_filter,
    "eth_newBlockFilter": eth_new_block_filter,
    "eth_newPendingTransactionFilter": eth_new_pending_transaction_filter,
    "eth_getFilterChanges": eth_get_filter_changes,
    "eth_getFilterLogs": eth_get_filter_logs,
    "eth_uninstallFilter": eth_uninstall_filter,
    "eth_subscribe": eth_subscribe,
    "eth_unsubscribe": eth_unsubscribe,
    "txpool_status": txpool_status,
    "txpool_content": txpool_content,
}


def register(registry: RpcMethodRegistry) -> None:
    """Add :data:`METHODS` to ``registry``."""
    for name, handler in METHODS.items():
        registry.add_method(name, handler)
