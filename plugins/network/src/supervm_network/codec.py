"""The network's message formats: what travels on each topic and protocol, as bytes.

Every message is RLP, decoded strictly (canonical integers, exact shapes, bounded sizes), and
a decoding failure is a :class:`MessageError` naming the problem, which the receiver counts
against the peer that sent it.

Gossip topics:

- transactions: ``rlp([tx, ...])``, each ``tx`` a transaction's network encoding (what
  ``eth_sendRawTransaction`` takes) as a byte string, at most :data:`MAX_TX_BATCH` of them;
- blocks: one block's encoding (``rlp([header, [txs], [ommers], [withdrawals]])``).

Request/response protocols, a request ``rlp([kind, args...])`` answered by
``rlp([kind, results...])`` or by ``rlp([ERROR, message])``:

- ``STATUS``: ``[0]`` → ``[0, chain_id, genesis_hash, head_number, head_hash]``;
- ``GET_HEADERS``: ``[1, start, count]`` → ``[1, [header, ...]]``, canonical headers from
  ``start`` on, as many as the server has and the limits allow;
- ``GET_BLOCKS``: ``[2, start, count]`` → ``[2, [block, ...]]``, the same for whole blocks
  (header and body);
- ``GET_PEERS``: ``[3]`` → ``[3, [multiaddr, ...]]``, the peers the server is connected to.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Final

import attrs
import rlp
from supervm.chain.blocks import Block, BlockHeader, decode_block, decode_header
from supervm.chain.transactions import Transaction, decode_transaction
from supervm.errors import SuperVMError

#: The most transactions one gossip message carries.
MAX_TX_BATCH: Final = 256
#: The most headers or blocks one request may ask for; a server answers with fewer when its
#: answer would pass :data:`SOFT_RESPONSE_BYTES`.
MAX_RANGE: Final = 128
#: A server stops adding blocks to an answer once it holds this many bytes.
SOFT_RESPONSE_BYTES: Final = 2 * 1024 * 1024
#: The largest message the network reads (a full block, or a range of them, fits).
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
#: The most peer addresses one answer carries.
MAX_PEER_ADDRS: Final = 64
#: The longest peer address accepted.
MAX_ADDR_BYTES: Final = 256


class MessageError(SuperVMError):
    """A message that does not decode: the peer that sent it sent garbage."""


class Kind(IntEnum):
    """The request kinds of the request/response protocols."""

    STATUS = 0
    GET_HEADERS = 1
    GET_BLOCKS = 2
    GET_PEERS = 3
    #: An answer saying the request could not be served, with a message.
    ERROR = 255


@attrs.frozen
class Status:
    """What a node tells a peer about its chain: enough to see whether they share one.

    :param chain_id: the EIP-155 chain id.
    :param genesis_hash: the hash of block 0; nodes whose genesis differs are not peers.
    :param head_number: the number of the node's head block.
    :param head_hash: its hash.
    """

    chain_id: int
    genesis_hash: bytes
    head_number: int
    head_hash: bytes


@attrs.frozen
class Request:
    """A decoded request: its kind and, for ranges, the first number and how many."""

    kind: Kind
    start: int = 0
    count: int = 0


# -- primitives -----------------------------------------------------------------------------------


def _encode(item: object) -> bytes:
    return bytes(rlp.encode(item))


def _decode(raw: bytes, what: str) -> object:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageError(f"{what}: {len(raw)} bytes, above the {MAX_MESSAGE_BYTES} allowed")
    try:
        return rlp.decode(bytes(raw), strict=True)
    except (rlp.DecodingError, TypeError, ValueError) as exc:
        raise MessageError(f"{what}: invalid RLP ({exc})") from None


def _list(item: object, what: str, length: int | None = None) -> list[object]:
    if not isinstance(item, list):
        raise MessageError(f"{what}: expected a list, got a byte string")
    if length is not None and len(item) != length:
        raise MessageError(f"{what}: expected {length} items, got {len(item)}")
    return item


def _bytes(item: object, what: str, size: int | None = None) -> bytes:
    if not isinstance(item, bytes):
        raise MessageError(f"{what}: expected a byte string, got a list")
    if size is not None and len(item) != size:
        raise MessageError(f"{what}: expected {size} bytes, got {len(item)}")
    return item


def _uint(item: object, what: str, limit: int = 2**64) -> int:
    raw = _bytes(item, what)
    if raw[:1] == b"\x00":
        raise MessageError(f"{what}: integer with leading zero bytes")
    value = int.from_bytes(raw, "big")
    if value >= limit:
        raise MessageError(f"{what}: {value} is out of range")
    return value


def _kind(item: object, what: str) -> Kind:
    value = _uint(item, f"{what} kind", 256)
    try:
        return Kind(value)
    except ValueError:
        raise MessageError(f"{what}: unknown kind {value}") from None


# -- gossip ---------------------------------------------------------------------------------------


def encode_transactions(encodings: Sequence[bytes]) -> bytes:
    """A gossip message carrying transactions, given as their network encodings."""
    if not 0 < len(encodings) <= MAX_TX_BATCH:
        raise ValueError(f"a transaction message carries 1 to {MAX_TX_BATCH} transactions")
    return _encode(list(encodings))


def decode_transactions(raw: bytes, *, chain_id: int) -> list[Transaction]:
    """The transactions of a gossip message, decoded and checked (signature, chain id).

    :raises MessageError: if the message or any transaction in it does not decode.
    """
    items = _list(_decode(raw, "transaction message"), "transaction message")
    if not 0 < len(items) <= MAX_TX_BATCH:
        raise MessageError(
            f"transaction message: {len(items)} transactions (1 to {MAX_TX_BATCH} allowed)"
        )
    txs: list[Transaction] = []
    for index, item in enumerate(items):
        encoding = _bytes(item, f"transaction {index}")
        try:
            txs.append(decode_transaction(encoding, chain_id=chain_id))
        except SuperVMError as exc:
            raise MessageError(f"transaction {index}: {exc}") from None
    return txs


def decode_gossip_block(raw: bytes, *, chain_id: int) -> Block:
    """The block of a gossip message; senders are recovered when it is imported.

    :raises MessageError: if it does not decode as a block.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageError(f"block message: {len(raw)} bytes, above the {MAX_MESSAGE_BYTES}")
    try:
        return decode_block(raw, recover=False, chain_id=chain_id)
    except SuperVMError as exc:
        raise MessageError(f"block message: {exc}") from None


# -- requests -------------------------------------------------------------------------------------


def encode_request(kind: Kind, start: int = 0, count: int = 0) -> bytes:
    """A request of ``kind``; ``start`` and ``count`` for the range kinds."""
    if kind in (Kind.GET_HEADERS, Kind.GET_BLOCKS):
        return _encode([int(kind), start, count])
    return _encode([int(kind)])


def decode_request(raw: bytes) -> Request:
    """A request as a server reads it.

    :raises MessageError: for anything but a well-formed request of a known kind.
    """
    items = _list(_decode(raw, "request"), "request")
    if not items:
        raise MessageError("request: empty list")
    kind = _kind(items[0], "request")
    if kind in (Kind.GET_HEADERS, Kind.GET_BLOCKS):
        _list(items, f"{kind.name} request", 3)
        start = _uint(items[1], "start")
        count = _uint(items[2], "count")
        if not 0 < count <= MAX_RANGE:
            raise MessageError(f"{kind.name} request: count {count} (1 to {MAX_RANGE} allowed)")
        return Request(kind, start, count)
    if kind is Kind.ERROR:
        raise MessageError("request: ERROR is an answer, not a request")
    _list(items, f"{kind.name} request", 1)
    return Request(kind)


def encode_status(status: Status) -> bytes:
    """The answer to a ``STATUS`` request."""
    return _encode(
        [
            int(Kind.STATUS),
            status.chain_id,
            status.genesis_hash,
            status.head_number,
            status.head_hash,
        ]
    )


def encode_headers(headers: Sequence[bytes]) -> bytes:
    """The answer to ``GET_HEADERS``: header encodings."""
    return _encode([int(Kind.GET_HEADERS), list(headers)])


def encode_blocks(blocks: Sequence[bytes]) -> bytes:
    """The answer to ``GET_BLOCKS``: block encodings."""
    return _encode([int(Kind.GET_BLOCKS), list(blocks)])


def encode_peers(addrs: Sequence[str]) -> bytes:
    """The answer to ``GET_PEERS``: multiaddrs as text."""
    return _encode([int(Kind.GET_PEERS), [a.encode() for a in addrs[:MAX_PEER_ADDRS]]])


def encode_error(message: str) -> bytes:
    """An answer saying the request was not served."""
    return _encode([int(Kind.ERROR), message.encode()[:512]])


class RemoteError(SuperVMError):
    """The peer answered a request with an error message."""


def _answer(raw: bytes, expected: Kind) -> list[object]:
    items = _list(_decode(raw, f"{expected.name} answer"), f"{expected.name} answer")
    if not items:
        raise MessageError(f"{expected.name} answer: empty list")
    kind = _kind(items[0], f"{expected.name} answer")
    if kind is Kind.ERROR:
        message = _bytes(items[1], "error message") if len(items) > 1 else b""
        raise RemoteError(message.decode(errors="replace") or "the peer refused the request")
    if kind is not expected:
        raise MessageError(f"{expected.name} answer: it is a {kind.name} answer")
    return items


def decode_status(raw: bytes) -> Status:
    """A peer's status.

    :raises MessageError: if it is not a well-formed status answer.
    :raises RemoteError: if the peer answered with an error.
    """
    items = _answer(raw, Kind.STATUS)
    _list(items, "STATUS answer", 5)
    return Status(
        chain_id=_uint(items[1], "chain id"),
        genesis_hash=_bytes(items[2], "genesis hash", 32),
        head_number=_uint(items[3], "head number"),
        head_hash=_bytes(items[4], "head hash", 32),
    )


def decode_headers(raw: bytes, *, limit: int = MAX_RANGE) -> list[BlockHeader]:
    """The headers of a ``GET_HEADERS`` answer, at most ``limit``.

    :raises MessageError: if the answer or a header in it does not decode.
    :raises RemoteError: if the peer answered with an error.
    """
    items = _answer(raw, Kind.GET_HEADERS)
    _list(items, "GET_HEADERS answer", 2)
    encodings = _list(items[1], "header list")
    if len(encodings) > limit:
        raise MessageError(f"GET_HEADERS answer: {len(encodings)} headers, {limit} asked for")
    headers: list[BlockHeader] = []
    for index, item in enumerate(encodings):
        try:
            headers.append(decode_header(_bytes(item, f"header {index}")))
        except SuperVMError as exc:
            raise MessageError(f"header {index}: {exc}") from None
    return headers


def decode_blocks(raw: bytes, *, limit: int = MAX_RANGE) -> list[bytes]:
    """The block encodings of a ``GET_BLOCKS`` answer, at most ``limit``, undecoded: the
    importer decodes each (and names what is wrong with it).

    :raises MessageError: if the answer is not a list of byte strings.
    :raises RemoteError: if the peer answered with an error.
    """
    items = _answer(raw, Kind.GET_BLOCKS)
    _list(items, "GET_BLOCKS answer", 2)
    encodings = _list(items[1], "block list")
    if len(encodings) > limit:
        raise MessageError(f"GET_BLOCKS answer: {len(encodings)} blocks, {limit} asked for")
    return [_bytes(item, f"block {index}") for index, item in enumerate(encodings)]


def decode_peers(raw: bytes) -> list[str]:
    """The addresses of a ``GET_PEERS`` answer.

    :raises MessageError: if it is not a well-formed answer.
    :raises RemoteError: if the peer answered with an error.
    """
    items = _answer(raw, Kind.GET_PEERS)
    _list(items, "GET_PEERS answer", 2)
    addrs = _list(items[1], "address list")
    if len(addrs) > MAX_PEER_ADDRS:
        raise MessageError(f"GET_PEERS answer: {len(addrs)} addresses ({MAX_PEER_ADDRS} at most)")
    out: list[str] = []
    for index, item in enumerate(addrs):
        raw_addr = _bytes(item, f"address {index}")
        if len(raw_addr) > MAX_ADDR_BYTES:
            raise MessageError(f"address {index}: {len(raw_addr)} bytes")
        try:
            out.append(raw_addr.decode("ascii"))
        except UnicodeDecodeError:
            raise MessageError(f"address {index}: not ASCII") from None
    return out
