"""The ``rpc`` service: JSON-RPC 2.0 over HTTP POST and WebSocket on one port (aiohttp).

Everything arrives at ``/``: a POST is a request or a batch, a GET asking for a WebSocket
upgrade opens a connection for requests and subscriptions, OPTIONS answers a CORS preflight, and
a plain GET answers a short page (the block explorer will hang its own there, through
:data:`PAGES`). Before anything else the ``Host`` header is checked against ``vhosts`` (geth's
DNS-rebinding guard: IP literals always pass).

A client cannot hold up the others: a body must arrive within ``read_timeout`` seconds (408
otherwise) and stay within ``max_request_bytes`` (413); a WebSocket message over the limit
closes the connection (1009); every WebSocket connection has a bounded queue of outgoing
frames, and a client that does not read them (the queue fills, or one frame takes longer than
``send_timeout``) is disconnected. Long batches yield to other clients as they run, and calls
run in the chain's writer thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import WSMsgType, web
from supervm.node.config import NodeConfig
from supervm.node.keys import CHAIN, CONFIG, ENDPOINTS, EVENTS
from supervm.services.service import Service, ServiceContext, StashKey

from .backend import BACKEND, CONNECTION, RpcBackend
from .filters import FILTER_TIMEOUT, FilterManager, SubscriptionHub, guarded
from .protocol import Dispatcher

log = logging.getLogger("supervm.rpc")

#: A handler for plain GET requests at ``/`` and at any other path (a block explorer's page and
#: the files it loads); looked up per request, so a service may store one whenever it starts.
#: Without one, ``/`` answers a short text and other paths 404.
PAGES: Final = StashKey[Callable[[web.Request], Awaitable[web.StreamResponse]]]("rpc pages")

#: Seconds a request body may take to arrive (geth's HTTP read timeout).
DEFAULT_READ_TIMEOUT: Final = 30.0
#: Seconds one WebSocket frame may take to be taken by the client.
DEFAULT_SEND_TIMEOUT: Final = 10.0
#: Frames a WebSocket connection may have waiting for the client.
DEFAULT_SEND_QUEUE: Final = 1024
#: Seconds an idle HTTP keep-alive connection stays open (geth's idle timeout).
DEFAULT_IDLE_TIMEOUT: Final = 120.0

#: The content types geth accepts for a POST.
_JSON_TYPES: Final = frozenset(
    {"application/json", "application/json-rpc", "application/jsonrequest"}
)
_TEXT: Final = "text/plain"
_WELCOME: Final = (
    "SuperVM JSON-RPC endpoint: POST JSON-RPC 2.0 requests (application/json) here, or open a "
    "WebSocket on this URL.\n"
)


class _TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        self.size = size


class WsConnection:
    """One WebSocket client: a bounded queue of outgoing frames and the task that sends them.

    :param queue_size: frames that may wait; a client whose queue fills is disconnected.
    :param send_timeout: seconds one frame may take; a client slower than that is disconnected.
    """

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, queue_size: int, send_timeout: float
    ) -> None:
        self.ws = ws
        self.request = request
        self.send_timeout = send_timeout
        self.closed = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self._after: list[Callable[[], None]] = []
        self._writer = asyncio.get_running_loop().create_task(self._write(), name="rpc-ws-writer")

    def send(self, frame: bytes) -> None:
        """Queue ``frame``; disconnect the client if its queue is full."""
        if self.closed:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.drop("it does not read its messages (send queue full)")

    def after_response(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the answer being computed is queued (see :meth:`answered`)."""
        self._after.append(callback)

    def answered(self) -> None:
        """The answer to the last message is queued: run what waited for it."""
        callbacks, self._after = self._after, []
        for callback in callbacks:
            callback()

    def drop(self, why: str) -> None:
        """Disconnect the client at once."""
        if self.closed:
            return
        self.closed = True
        log.warning("dropping WebSocket client %s: %s", self.request.remote, why)
        transport = self.request.transport
        if transport is not None:
            transport.abort()  # a client that does not read would not read a close frame either
        self._writer.cancel()

    async def _write(self) -> None:
        ws = self.ws
        while True:
            frame = await self._queue.get()
            try:
                await asyncio.wait_for(ws.send_str(frame.decode()), self.send_timeout)
            except TimeoutError:
                self.drop(f"a message took more than {self.send_timeout:g} s to send")
                return
            except (ConnectionError, RuntimeError):  # closed under us: the reader ends too
                self.closed = True
                return

    async def close(self) -> None:
        """Stop sending and close the socket."""
        self.closed = True
        self._writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(), 1.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            transport = self.request.transport
            if transport is not None:
                transport.abort()


class RpcService(Service):
    """The JSON-RPC server.

    :param read_timeout: seconds a request body may take to arrive.
    :param send_timeout: seconds one WebSocket frame may take to send.
    :param send_queue: WebSocket frames that may wait for a client.
    :param filter_timeout: seconds a filter lives without a poll.
    """

    def __init__(
        self,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        send_queue: int = DEFAULT_SEND_QUEUE,
        filter_timeout: float = FILTER_TIMEOUT,
    ) -> None:
        self.read_timeout = read_timeout
        self.send_timeout = send_timeout
        self.send_queue = send_queue
        self.filter_timeout = filter_timeout
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self._context: ServiceContext | None = None
        self._dispatcher: Dispatcher | None = None
        self._backend: RpcBackend | None = None
        self._connections: set[WsConnection] = set()
        self._unlisten: list[Callable[[], None]] = []
        self._config = NodeConfig()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, context: ServiceContext) -> None:
        self._context = context
        config = self._config = context.stash.get(CONFIG) or NodeConfig()
        node = context.stash[CHAIN]
        events = context.stash[EVENTS]
        registry = context.kernel.rpc_methods()
        self._dispatcher = Dispatcher(
            registry,
            context,
            max_batch=config.max_batch,
            max_batch_response_bytes=config.max_batch_response_bytes,
        )
        self._dispatcher.declare_metrics()
        filters = FilterManager(self.filter_timeout)

        def pooled(tx_hash: bytes) -> object:
            pool = backend.pool
            return pool.get(tx_hash) if pool is not None else None

        subscriptions = SubscriptionHub(pooled)
        backend = self._backend = RpcBackend(context, node, events, config, filters, subscriptions)
        context.stash[BACKEND] = backend
        self._unlisten = [
            events.on_block(guarded("block cache", backend.remember)),
            events.on_block(guarded("filter", filters.on_block)),
            events.on_block(guarded("subscription", subscriptions.on_block)),
            events.on_pending(guarded("filter", filters.on_pending)),
            events.on_pending(guarded("subscription", subscriptions.on_pending)),
        ]
        app = web.Application(client_max_size=config.max_request_bytes + 1)
        app.router.add_route("*", "/", self._root)
        app.router.add_get("/{path:.+}", self._page)  # HEAD too: aiohttp adds it for GET
        runner = self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=DEFAULT_IDLE_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, config.rpc_host, config.rpc_port, reuse_address=True)
        await site.start()
        port = runner.addresses[0][1]
        host = config.rpc_host
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        context.stash.setdefault(ENDPOINTS, {})["rpc"] = self.url
        context.spawn(self._expire_filters(filters), name="rpc-filter-expiry")
        log.info("JSON-RPC listening on %s (HTTP and WebSocket)", self.url)

    async def stop(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.prefetch.close()
        for unlisten in self._unlisten:
            unlisten()
        self._unlisten = []
        for connection in list(self._connections):
            await connection.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _expire_filters(self, filters: FilterManager) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(30.0, self.filter_timeout / 4)))
            filters.expire()

    # -- HTTP ----------------------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.StreamResponse:
        if not self._host_allowed(request.host):
            return web.Response(status=403, text="invalid host specified\n", content_type=_TEXT)
        method = request.method
        if method == "POST":
            return await self._post(request)
        if method == "OPTIONS":
            return self._preflight(request)
        if method in ("GET", "HEAD"):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._websocket(request)
            assert self._context is not None
            pages = self._context.stash.get(PAGES)
            if pages is not None:
                return await pages(request)
            return web.Response(text=_WELCOME, content_type=_TEXT, headers=self._cors(request))
        return web.Response(
            status=405,
            text="method not allowed: POST JSON-RPC requests\n",
            content_type=_TEXT,
            headers={"Allow": "GET, POST, OPTIONS"},
        )

    async def _page(self, request: web.Request) -> web.StreamResponse:
        """A GET elsewhere than ``/``: the :data:`PAGES` handler's, if a service set one."""
        if not self._host_allowed(request.host):
            return web.Response(status=403, text="invalid host specified\n", content_type=_TEXT)
        assert self._context is not None
        pages = self._context.stash.get(PAGES)
        if pages is None:
            return web.Response(status=404, text="not found\n", content_type=_TEXT)
        return await pages(request)

    def _host_allowed(self, host_header: str) -> bool:
        """geth's vhosts rule: ``*``, an IP literal, or a listed name (ports ignored)."""
        allowed = self._config.vhosts
        if "*" in allowed:
            return True
        host = host_header.strip()
        if host.startswith("["):  # [::1]:8545
            host = host[1 : host.find("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
        return host.lower() in {h.lower() for h in allowed}

    def _origin_allowed(self, origin: str) -> bool:
        allowed = self._config.cors_origins
        return "*" in allowed or origin.lower() in {o.lower() for o in allowed}

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or not self._origin_allowed(origin):
            return {}
        if "*" in self._config.cors_origins:
            return {"Access-Control-Allow-Origin": "*"}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def _preflight(self, request: web.Request) -> web.Response:
        origin = request.headers.get("Origin", "")
        if not origin or not self._origin_allowed(origin):
            return web.Response(
                status=403,
                text="CORS: origin not allowed (see --rpc-cors)\n",
                content_type=_TEXT,
            )
        headers = self._cors(request)
        headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
        headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Content-Type"
        )
        headers["Access-Control-Max-Age"] = "600"
        return web.Response(status=204, headers=headers)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        limit = self._config.max_request_bytes
        content_type = request.headers.get("Content-Type")
        if content_type is not None and request.content_type not in _JSON_TYPES:
            return web.Response(
                status=415,
                text="invalid content type, only application/json is supported\n",
                content_type=_TEXT,
            )
        length = request.content_length
        try:
            if length is not None and length > limit:
                raise _TooLarge(length)
            body = await asyncio.wait_for(_read_body(request, limit), self.read_timeout)
        except _TooLarge as exc:
            size = f"{exc.size}>{limit}" if exc.size is not None else f">{limit}"
            response = web.Response(
                status=413, text=f"content length too large ({size})\n", content_type=_TEXT
            )
            response.force_close()
            return response
        except TimeoutError:
            response = web.Response(
                status=408,
                text=f"timed out reading the request body ({self.read_timeout:g} s)\n",
                content_type=_TEXT,
            )
            response.force_close()
            return response
        assert self._dispatcher is not None
        answer = await self._dispatcher.handle(body)
        return web.Response(
            body=answer or b"", content_type="application/json", headers=self._cors(request)
        )

    # -- WebSocket -----------------------------------------------------------------------------

    def _ws_origin_allowed(self, request: web.Request) -> bool:
        """geth's WebSocket rule: no Origin (not a browser) passes; otherwise the CORS origins,
        or localhost when none are set."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if self._config.cors_origins:
            return self._origin_allowed(origin)
        host = origin.lower().split("://", 1)[-1].split(":", 1)[0].strip("[]")
        return host in ("localhost", "127.0.0.1", "::1")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._ws_origin_allowed(request):
            return web.Response(
                status=403, text="websocket: origin not allowed\n", content_type=_TEXT
            )
        ws = web.WebSocketResponse(max_msg_size=self._config.max_request_bytes, compress=False)
        await ws.prepare(request)
        connection = WsConnection(ws, request, self.send_queue, self.send_timeout)
        self._connections.add(connection)
        assert self._dispatcher is not None and self._backend is not None
        dispatcher = self._dispatcher
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break  # an error (a message over the limit closes with 1009) or a close
                token = CONNECTION.set(connection)
                try:
                    answer = await dispatcher.handle(message.data)
                finally:
                    CONNECTION.reset(token)
                if answer is not None:
                    connection.send(answer)
                connection.answered()
                if connection.closed:
                    break
        finally:
            self._connections.discard(connection)
            self._backend.subscriptions.drop(connection)
            await connection.close()
        return ws


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes however it is framed (chunked)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(None)
        chunks.append(chunk)
    return b"".join(chunks)
