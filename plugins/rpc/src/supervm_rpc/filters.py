"""Log criteria, polled filters (``eth_newFilter`` ...) and WebSocket subscriptions
(``eth_subscribe``).

Both are fed by the node's :class:`~supervm.node.events.ChainEvents`: each new block and each
pending transaction is offered to every filter and subscription when it happens, so a filter's
first poll returns only what happened after it was made, as the execution API says. After a
reorg, log filters and ``logs`` subscriptions get the matching logs of the blocks it took off
the chain first, lowest block first and each with ``"removed": true``, then the new branch's
(geth sends them the same way); block filters and ``newHeads`` get the new branch's blocks. A filter
keeps at most :data:`MAX_FILTER_ITEMS` undelivered items (the oldest are dropped beyond that)
and is removed after :attr:`FilterManager.timeout` seconds without a poll (geth: 5 minutes).
"""

from __future__ import annotations

import collections
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import orjson
from supervm.chain.blocks import Block
from supervm.chain.receipts import Receipt, bloom_contains
from supervm.model import Log
from supervm.node.events import NewBlock
from supervm.services.rpc import RpcError
from supervm.tooling.convert import data, header_to_json, transaction_to_json

from . import params as p
from .shapes import block_logs

log = logging.getLogger("supervm.rpc")

#: How long a filter lives without a poll (geth's ``filterTimeout``).
FILTER_TIMEOUT: Final = 5 * 60.0
#: The most undelivered items a filter keeps; older ones are dropped.
MAX_FILTER_ITEMS: Final = 10_000
#: The most filters installed at once: each costs memory until it expires.
MAX_FILTERS: Final = 10_000
#: geth's limit on topic positions in a log filter.
MAX_TOPICS: Final = 4
#: JSON-RPC error code for a server-side failure (geth's default).
SERVER_ERROR: Final = -32000


def new_id() -> str:
    """A filter or subscription id: 16 random bytes in hex, as geth makes them."""
    return "0x" + secrets.token_hex(16)


# --- log criteria ---------------------------------------------------------------------------------


@attrs.frozen
class LogCriteria:
    """Which logs a query or filter wants.

    :param addresses: the emitting contracts (any of them), ``None`` for any contract.
    :param topics: per topic position, the topics allowed there (any of them), ``None`` for a
        wildcard; positions past the tuple's end match anything.
    :param from_block: the first block (a :class:`~supervm_rpc.params.BlockRef`).
    :param to_block: the last block.
    :param block_hash: one block instead of a range (EIP-234).
    """

    addresses: frozenset[bytes] | None = None
    topics: tuple[frozenset[bytes] | None, ...] = ()
    from_block: p.BlockRef = p.LATEST
    to_block: p.BlockRef = p.LATEST
    block_hash: bytes | None = None

    def matches(self, item: Log) -> bool:
        """Whether ``item`` satisfies the address and topic criteria."""
        if self.addresses is not None and item.address not in self.addresses:
            return False
        topics = item.topics
        for position, allowed in enumerate(self.topics):
            if allowed is None:
                continue
            if position >= len(topics) or topics[position] not in allowed:
                return False
        return True

    def may_match(self, bloom: bytes) -> bool:
        """Whether a block with ``bloom`` may hold a matching log (``False`` is certain)."""
        if self.addresses is not None and not any(bloom_contains(bloom, a) for a in self.addresses):
            return False
        return all(
            allowed is None or any(bloom_contains(bloom, t) for t in allowed)
            for allowed in self.topics
        )


def log_criteria(value: object, where: str, *, allow_range: bool = True) -> LogCriteria:
    """Read an ``eth_getLogs`` / ``eth_newFilter`` filter object."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise p.invalid(f"{where}: expected a filter object")
    block_hash = None
    if value.get("blockHash") is not None:
        if value.get("fromBlock") is not None or value.get("toBlock") is not None:
            raise p.invalid(f"{where}: cannot specify both blockHash and fromBlock/toBlock")
        if not allow_range:
            raise p.invalid(f"{where}: a filter cannot be for one blockHash")
        block_hash = p.hash32(value["blockHash"], f"{where}: blockHash")
    raw_address = value.get("address")
    addresses: frozenset[bytes] | None
    if raw_address is None:
        addresses = None
    elif isinstance(raw_address, list):
        addresses = frozenset(p.address(a, f"{where}: address") for a in raw_address) or None
    else:
        addresses = frozenset({p.address(raw_address, f"{where}: address")})
    raw_topics = value.get("topics")
    topics: list[frozenset[bytes] | None] = []
    if raw_topics is not None:
        if not isinstance(raw_topics, list):
            raise p.invalid(f"{where}: topics must be an array")
        if len(raw_topics) > MAX_TOPICS:
            raise p.invalid(f"{where}: exceed max topics ({MAX_TOPICS})")
        for i, entry in enumerate(raw_topics):
            if entry is None:
                topics.append(None)
            elif isinstance(entry, list):
                # An empty or null-holding OR-list matches anything at that position (geth).
                if not entry or any(t is None for t in entry):
                    topics.append(None)
                else:
                    topics.append(frozenset(p.hash32(t, f"{where}: topics[{i}]") for t in entry))
            else:
                topics.append(frozenset({p.hash32(entry, f"{where}: topics[{i}]")}))
    while topics and topics[-1] is None:
        topics.pop()
    return LogCriteria(
        addresses=addresses,
        topics=tuple(topics),
        from_block=p.block_number(value.get("fromBlock"), f"{where}: fromBlock"),
        to_block=p.block_number(value.get("toBlock"), f"{where}: toBlock"),
        block_hash=block_hash,
    )


def matching_logs(
    block: Block, receipts: Sequence[Receipt], criteria: LogCriteria
) -> list[dict[str, Any]]:
    """The logs of ``block`` that ``criteria`` selects (address and topics only)."""
    if not criteria.may_match(block.header.logs_bloom):
        return []
    shaped = block_logs(block, receipts)
    raw = [entry for receipt in receipts for entry in receipt.logs]
    return [j for item, j in zip(raw, shaped, strict=True) if criteria.matches(item)]


def _in_range(number: int, low: int | None, high: int | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


def head_logs(
    new: NewBlock, criteria: LogCriteria, low: int | None = None, high: int | None = None
) -> list[dict[str, Any]]:
    """The logs a new head brings for ``criteria``, in the order a client is told of them:
    those of the blocks a reorg removed (``new.removed``), lowest block first and each with
    ``"removed": true``, then the new block's own.

    :param low: the first block number wanted (``None``: any), for removed blocks too.
    :param high: the last block number wanted (``None``: any).
    """
    out: list[dict[str, Any]] = []
    for gone in reversed(new.removed):  # highest first in the event; geth sends lowest first
        if _in_range(gone.block.header.number, low, high):
            out.extend(
                {**item, "removed": True}
                for item in matching_logs(gone.block, gone.receipts, criteria)
            )
    if _in_range(new.block.header.number, low, high):
        out.extend(matching_logs(new.block, new.receipts, criteria))
    return out


# --- polled filters -------------------------------------------------------------------------------


@attrs.define
class Filter:
    """One installed filter: what it collects, what it has collected, when it was polled.

    :param kind: ``logs``, ``blocks`` or ``pending``.
    :param low: for a log filter, the first block number it accepts (``None``: any).
    :param high: the last block number it accepts (``None``: any).
    """

    kind: str
    criteria: LogCriteria | None
    last_poll: float
    low: int | None = None
    high: int | None = None
    items: collections.deque[Any] = attrs.field(
        factory=lambda: collections.deque(maxlen=MAX_FILTER_ITEMS)
    )


def filter_not_found() -> RpcError:
    """geth's answer for an unknown or expired filter id."""
    return RpcError(SERVER_ERROR, "filter not found")


class FilterManager:
    """The installed filters of one server.

    :param timeout: seconds a filter lives without a poll.
    :param clock: the time source (monotonic seconds), replaceable in tests.
    """

    def __init__(
        self, timeout: float = FILTER_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.timeout = timeout
        self.clock = clock
        self._filters: dict[str, Filter] = {}

    def __len__(self) -> int:
        return len(self._filters)

    def install(
        self,
        kind: str,
        criteria: LogCriteria | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> str:
        """Install a filter; return its id."""
        self.expire()
        if len(self._filters) >= MAX_FILTERS:
            raise RpcError(
                SERVER_ERROR, f"too many filters installed (at most {MAX_FILTERS}): uninstall some"
            )
        filter_id = new_id()
        self._filters[filter_id] = Filter(kind, criteria, self.clock(), low, high)
        return filter_id

    def get(self, filter_id: object) -> Filter:
        """The filter ``filter_id`` (its poll time is not touched)."""
        self.expire()
        found = self._filters.get(filter_id) if isinstance(filter_id, str) else None
        if found is None:
            raise filter_not_found()
        return found

    def changes(self, filter_id: object) -> list[Any]:
        """What the filter collected since its last poll, which is now."""
        found = self.get(filter_id)
        found.last_poll = self.clock()
        out = list(found.items)
        found.items.clear()
        return out

    def uninstall(self, filter_id: object) -> bool:
        """Remove a filter; whether it existed."""
        self.expire()
        return isinstance(filter_id, str) and self._filters.pop(filter_id, None) is not None

    def expire(self) -> None:
        """Drop the filters not polled within the timeout."""
        deadline = self.clock() - self.timeout
        for filter_id in [k for k, f in self._filters.items() if f.last_poll < deadline]:
            del self._filters[filter_id]

    def on_block(self, new: NewBlock) -> None:
        """Offer a new head to every filter (and, to log filters, the logs a reorg removed)."""
        if not self._filters:
            return
        block_hash = data(new.block.header.hash)
        for found in self._filters.values():
            if found.kind == "blocks":
                found.items.append(block_hash)
            elif found.kind == "logs" and found.criteria is not None:
                found.items.extend(head_logs(new, found.criteria, found.low, found.high))

    def on_pending(self, tx_hash: bytes) -> None:
        """Offer a newly pooled transaction's hash to every pending-transaction filter."""
        if not self._filters:
            return
        shown: str | None = None
        for found in self._filters.values():
            if found.kind == "pending":
                shown = shown or data(tx_hash)
                found.items.append(shown)


# --- subscriptions --------------------------------------------------------------------------------


class Subscriber(Protocol):
    """A connection that can receive notifications (a WebSocket client)."""

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` for the client without waiting (dropping the client if it lags)."""
        ...

    def after_response(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the response being computed has been queued."""
        ...


@attrs.define
class Subscription:
    """One ``eth_subscribe`` of one connection.

    :param active: whether notifications flow; set once the subscribe response was queued, so
        that a client never sees a notification before it knows the id.
    """

    kind: str
    subscriber: Subscriber
    criteria: LogCriteria | None = None
    full: bool = False
    active: bool = False


def _notification(subscription_id: str, result: bytes) -> bytes:
    return (
        b'{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"'
        + subscription_id.encode()
        + b'","result":'
        + result
        + b"}}"
    )


#: What ``eth_subscribe`` accepts.
SUBSCRIPTION_KINDS: Final = ("newHeads", "logs", "newPendingTransactions")


class SubscriptionHub:
    """Every live subscription of one server, fed by the node's events.

    :param lookup: finds a pooled transaction by hash, for ``newPendingTransactions`` with
        full transactions.
    """

    def __init__(self, lookup: Callable[[bytes], Any] = lambda _h: None) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._lookup = lookup

    def __len__(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self, subscriber: Subscriber, kind: str, criteria: LogCriteria | None, full: bool
    ) -> str:
        """Add a subscription, active once the current response has been queued."""
        subscription_id = new_id()
        subscription = Subscription(kind, subscriber, criteria, full)
        self._subscriptions[subscription_id] = subscription

        def activate() -> None:
            subscription.active = True

        subscriber.after_response(activate)
        return subscription_id

    def unsubscribe(self, subscriber: Subscriber, subscription_id: object) -> bool:
        """Remove one of ``subscriber``'s subscriptions; whether it had it."""
        found = (
            self._subscriptions.get(subscription_id) if isinstance(subscription_id, str) else None
        )
        if found is None or found.subscriber is not subscriber:
            return False
        del self._subscriptions[subscription_id]  # type: ignore[arg-type]
        return True

    def drop(self, subscriber: Subscriber) -> None:
        """Remove every subscription of a connection that closed."""
        for key in [k for k, s in self._subscriptions.items() if s.subscriber is subscriber]:
            del self._subscriptions[key]

    def _active(self, kind: str) -> Iterable[tuple[str, Subscription]]:
        return [(k, s) for k, s in self._subscriptions.items() if s.kind == kind and s.active]

    def on_block(self, new: NewBlock) -> None:
        """Notify ``newHeads`` and ``logs`` subscribers of a new head (``logs`` ones first of
        the logs a reorg removed)."""
        if not self._subscriptions:
            return
        heads = self._active("newHeads")
        if heads:
            header = orjson.dumps(header_to_json(new.block.header))
            for key, subscription in heads:
                subscription.subscriber.send(_notification(key, header))
        for key, subscription in self._active("logs"):
            assert subscription.criteria is not None
            for item in head_logs(new, subscription.criteria):
                subscription.subscriber.send(_notification(key, orjson.dumps(item)))

    def on_pending(self, tx_hash: bytes) -> None:
        """Notify ``newPendingTransactions`` subscribers of a newly pooled transaction."""
        if not self._subscriptions:
            return
        pending = self._active("newPendingTransactions")
        if not pending:
            return
        short = orjson.dumps(data(tx_hash))
        full: bytes | None = None
        for key, subscription in pending:
            if subscription.full:
                if full is None:
                    tx = self._lookup(tx_hash)
                    full = orjson.dumps(transaction_to_json(tx)) if tx is not None else short
                subscription.subscriber.send(_notification(key, full))
            else:
                subscription.subscriber.send(_notification(key, short))


def guarded(name: str, listener: Callable[[Any], None]) -> Callable[[Any], None]:
    """``listener`` with its failures logged instead of raised: ChainEvents removes a listener
    that raises, and one bad notification must not end every filter and subscription."""

    def call(value: Any) -> None:
        try:
            listener(value)
        except Exception:
            log.exception("the RPC server's %s listener failed on %r", name, value)

    return call
