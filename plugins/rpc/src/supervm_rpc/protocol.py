"""JSON-RPC 2.0 over any transport: one body in, one body (or none) out.

:class:`Dispatcher` parses a request or a batch, checks each call's shape, finds the method in
the kernel's registry, runs it and serialises the answer; HTTP and WebSocket hand it bytes. It
follows the JSON-RPC 2.0 specification and geth's choices where the specification leaves them:

- invalid JSON: one error -32700 with id ``null``; a call that is not a request object: -32600;
- a call without ``id`` is a notification: it runs, and nothing is answered for it;
- an empty batch: one error -32600 ``empty batch``; a batch over ``max_batch`` calls: a batch
  holding one error -32600 ``batch too large`` (with the first call's id), nothing runs;
- once a batch's answers pass ``max_batch_response_bytes``, each remaining call is answered
  with -32003 ``response too large`` instead of running;
- an unknown method: -32601 ``the method X does not exist/is not available``; a handler's
  :class:`~supervm.services.rpc.RpcError` becomes its error object; any other exception is
  logged and answered -32603.

Every call counts in ``rpc_requests`` and ``rpc_success`` or ``rpc_failure``, and its seconds in
``rpc_duration_<method>_success`` or ``_failure``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any, Final

import orjson
from supervm.plugins.registry import RpcMethodRegistry
from supervm.services.metrics import DEFAULT_BUCKETS, Metric, MetricKind, Metrics
from supervm.services.rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)
from supervm.services.service import ServiceContext

from .automine import BATCH_INCLUSIONS, settle
from .prefetch import KNOWN_SENDERS, PREFETCH_THRESHOLD, SenderPrefetch, raw_transactions

log = logging.getLogger("supervm.rpc")

#: geth's code for a batch whose answers grew too large.
RESPONSE_TOO_LARGE: Final = -32003
#: How many calls of a batch run before the dispatcher lets other clients' work in.
_YIELD_EVERY: Final = 64

REQUESTS: Final = Metric("rpc_requests", MetricKind.COUNTER, "JSON-RPC calls received.")
SUCCESS: Final = Metric("rpc_success", MetricKind.COUNTER, "JSON-RPC calls answered with a result.")
FAILURE: Final = Metric("rpc_failure", MetricKind.COUNTER, "JSON-RPC calls answered with an error.")


def duration_metric(method: str, outcome: str) -> Metric:
    """``rpc_duration_<method>_<outcome>``: seconds per call, as geth names them."""
    return Metric(
        f"rpc_duration_{method}_{outcome}",
        MetricKind.HISTOGRAM,
        f"Seconds per {method} call answered with "
        + ("a result." if outcome == "success" else "an error."),
        buckets=DEFAULT_BUCKETS,
    )


def dumps(value: Any) -> bytes:
    """Serialise an answer; integers beyond 64 bits (a third-party method's) go through the
    standard library, which orjson refuses."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def error_response(call_id: Any, code: int, message: str, data: object = None) -> bytes:
    """A JSON-RPC error object's response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"jsonrpc": "2.0", "id": call_id, "error": error})


def _valid_id(value: object) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int | float) and not isinstance(value, bool))
    )


class Dispatcher:
    """Answers JSON-RPC bodies with the methods of ``registry``.

    :param registry: the methods (``kernel.rpc_methods()``), looked up per call with ``find``.
    :param context: the RPC service's context, handed to every handler.
    :param max_batch: the most calls in one batch.
    :param max_batch_response_bytes: the most bytes a batch's answers may add up to.
    """

    def __init__(
        self,
        registry: RpcMethodRegistry,
        context: ServiceContext,
        *,
        max_batch: int,
        max_batch_response_bytes: int,
    ) -> None:
        self.registry = registry
        self.context = context
        self.metrics: Metrics = context.metrics
        self.max_batch = max_batch
        self.max_batch_response_bytes = max_batch_response_bytes
        self.prefetch = SenderPrefetch()
        self._durations = {
            name: (f"rpc_duration_{name}_success", f"rpc_duration_{name}_failure")
            for name in registry.names()
        }

    def declare_metrics(self) -> None:
        """Declare the counters and one duration histogram pair per registered method."""
        metrics = self.metrics
        for metric in (REQUESTS, SUCCESS, FAILURE):
            metrics.declare(metric)
        for name in self.registry.names():
            metrics.declare(duration_metric(name, "success"))
            metrics.declare(duration_metric(name, "failure"))

    async def handle(self, body: bytes | str) -> bytes | None:
        """The answer to ``body`` (a request or a batch), or ``None`` if nothing is answered
        (notifications only)."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return error_response(None, PARSE_ERROR, f"parse error: {exc}")
        if isinstance(payload, list):
            return await self._batch(payload)
        return await self.call(payload)

    async def _batch(self, calls: list[Any]) -> bytes | None:
        if not calls:
            return error_response(None, INVALID_REQUEST, "empty batch")
        if len(calls) > self.max_batch:
            first = next(
                (
                    c["id"]
                    for c in calls
                    if isinstance(c, dict) and "id" in c and _valid_id(c["id"])
                ),
                None,
            )
            message = f"batch too large: {len(calls)} calls, at most {self.max_batch}"
            return b"[" + error_response(first, INVALID_REQUEST, message) + b"]"
        known = None
        raws = raw_transactions(calls)
        if len(raws) >= PREFETCH_THRESHOLD:
            known = KNOWN_SENDERS.set(await self.prefetch.senders(raws))
        waits: list[Awaitable[None]] = []
        inclusions = BATCH_INCLUSIONS.set(waits)
        try:
            answer = await self._answer_batch(calls)
            await settle(waits)  # automining: every send of the batch is in a block
            return answer
        finally:
            BATCH_INCLUSIONS.reset(inclusions)
            if known is not None:
                KNOWN_SENDERS.reset(known)

    async def _answer_batch(self, calls: list[Any]) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        limit = self.max_batch_response_bytes
        for index, message in enumerate(calls):
            if index and not index % _YIELD_EVERY:
                await asyncio.sleep(0)  # a long batch must not hold up every other client
            if size > limit:
                if isinstance(message, dict) and "id" in message:
                    parts.append(
                        error_response(
                            message["id"] if _valid_id(message["id"]) else None,
                            RESPONSE_TOO_LARGE,
                            "response too large",
                        )
                    )
                continue
            answer = await self.call(message)
            if answer is not None:
                parts.append(answer)
                size += len(answer)
        if not parts:
            return None
        return b"[" + b",".join(parts) + b"]"

    async def call(self, message: object) -> bytes | None:
        """The answer to one request object (``None`` for a notification)."""
        if not isinstance(message, dict):
            return error_response(None, INVALID_REQUEST, "invalid request: expected an object")
        notification = "id" not in message
        call_id = message.get("id")
        if not _valid_id(call_id):
            return error_response(
                None, INVALID_REQUEST, "invalid request: id must be a string, number or null"
            )
        if message.get("jsonrpc") != "2.0":
            return error_response(
                call_id, INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"'
            )
        name = message.get("method")
        if not isinstance(name, str) or not name:
            return error_response(
                call_id, INVALID_REQUEST, "invalid request: method must be a non-empty string"
            )
        params = message.get("params")
        if params is None:
            params = []
        elif not isinstance(params, list | dict):
            return error_response(
                call_id, INVALID_PARAMS, "invalid params: params must be an array or an object"
            )
        metrics = self.metrics
        metrics.inc("rpc_requests")
        method = self.registry.find(name)
        if method is None:
            metrics.inc("rpc_failure")
            if notification:
                return None
            return error_response(
                call_id, METHOD_NOT_FOUND, f"the method {name} does not exist/is not available"
            )
        started = time.perf_counter()
        try:
            result = await method.call(params, self.context)
        except RpcError as exc:
            self._record(name, False, started)
            if notification:
                return None
            return error_response(call_id, exc.code, exc.message, exc.data)
        except Exception as exc:
            self._record(name, False, started)
            log.exception("JSON-RPC method %s failed", name)
            if notification:
                return None
            return error_response(call_id, INTERNAL_ERROR, f"internal error: {exc}")
        self._record(name, True, started)
        if notification:
            return None
        try:
            return dumps({"jsonrpc": "2.0", "id": call_id, "result": result})
        except (TypeError, ValueError) as exc:
            log.error("JSON-RPC method %s returned what JSON cannot hold: %s", name, exc)
            return error_response(call_id, INTERNAL_ERROR, f"internal error: {exc}")

    def _record(self, name: str, ok: bool, started: float) -> None:
        elapsed = time.perf_counter() - started
        metrics = self.metrics
        metrics.inc("rpc_success" if ok else "rpc_failure")
        names = self._durations.get(name)
        if names is not None:
            metrics.observe(names[0] if ok else names[1], elapsed)
