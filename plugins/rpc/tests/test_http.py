"""JSON-RPC 2.0 framing over HTTP, the limits, CORS, the host allow-list, bad and slow clients,
the service's registration and its metrics."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp
from supervm import Kernel
from supervm.node.keys import CHAIN_SERVICE, POOL_SERVICE
from supervm_rpc import RpcService
from supervm_rpc.testing import NodeThread


def call(method: str, call_id: Any = 1, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or []}
    if call_id is not ...:
        message["id"] = call_id
    return message


def answer(node: NodeThread, body: Any, **headers: str) -> Any:
    status, _headers, raw = node.post(body, headers)
    assert status == 200, raw
    return json.loads(raw) if raw else None


def test_registered_as_rpc_after_the_chain_and_the_pool(kernel: Kernel) -> None:
    services = kernel.services()
    entry = services.entry("rpc")
    assert isinstance(entry.value, RpcService) and entry.plugin == "rpc"
    assert services.after("rpc") == (CHAIN_SERVICE, POOL_SERVICE)
    names = [e.name for e in services.start_order()]
    assert names.index("rpc") > names.index("chain") and names.index("rpc") > names.index("txpool")
    assert "eth_sendRawTransaction" in kernel.rpc_methods()


def test_endpoint_is_recorded(node: NodeThread) -> None:
    assert node.url.startswith("http://127.0.0.1:") and node.port > 0


def test_parse_errors_and_invalid_requests(node: NodeThread) -> None:
    parse = answer(node, b'{"jsonrpc": "2.0", "method": ')
    assert parse["id"] is None and parse["error"]["code"] == -32700
    cases = [
        (b"42", None, -32600),
        (b'"eth_chainId"', None, -32600),
        (json.dumps({"jsonrpc": "1.0", "id": 3, "method": "eth_chainId"}).encode(), 3, -32600),
        (json.dumps({"jsonrpc": "2.0", "id": 4}).encode(), 4, -32600),
        (json.dumps({"jsonrpc": "2.0", "id": 5, "method": 7}).encode(), 5, -32600),
        (json.dumps({"jsonrpc": "2.0", "id": {"x": 1}, "method": "eth_chainId"}).encode(), None, -32600),  # noqa: E501
        (json.dumps({"jsonrpc": "2.0", "id": 6, "method": "eth_chainId", "params": 5}).encode(), 6, -32602),  # noqa: E501
    ]  # fmt: skip
    for body, call_id, code in cases:
        reply = answer(node, body)
        assert reply["id"] == call_id and reply["error"]["code"] == code, (body, reply)
    # Strings, numbers and null are ids, echoed as they came.
    for call_id in ("abc", 7, 2.5, None):
        assert answer(node, call("eth_chainId", call_id)) == {
            "jsonrpc": "2.0",
            "id": call_id,
            "result": "0x7a69",
        }


def test_notifications_get_no_answer(node: NodeThread) -> None:
    status, _headers, body = node.post(call("eth_chainId", ...))
    assert (status, body) == (200, b"")
    status, _headers, body = node.post([call("eth_chainId", ...), call("eth_nope", ...)])
    assert (status, body) == (200, b"")


def test_batches(node: NodeThread) -> None:
    batch = [
        call("eth_chainId", 1),
        call("eth_blockNumber", ...),  # a notification: no answer
        call("eth_nope", 2),
        42,
        call("net_version", "x"),
    ]
    replies = answer(node, batch)
    assert [r["id"] for r in replies] == [1, 2, None, "x"]
    assert replies[0]["result"] == "0x7a69" and replies[3]["result"] == "31337"
    assert replies[1]["error"]["code"] == -32601 and replies[2]["error"]["code"] == -32600
    empty = answer(node, [])
    assert empty["error"] == {"code": -32600, "message": "empty batch"}


def test_batch_limits(strict_node: NodeThread) -> None:
    replies = answer(strict_node, [call("eth_chainId", i) for i in range(5)])
    assert len(replies) == 5
    (too_many,) = answer(
        strict_node, [call("eth_chainId", ...), *[call("eth_chainId", i) for i in range(5)]]
    )
    assert too_many["error"]["code"] == -32600
    assert too_many["error"]["message"].startswith("batch too large")
    assert too_many["id"] == 0  # the first call's id, as geth reports it
    # Answers past 600 bytes: the rest are not run, each answered "response too large".
    replies = answer(
        strict_node, [call("test_big", i, [400]) for i in range(3)] + [call("test_big", 9, [1])]
    )
    assert [r["id"] for r in replies] == [0, 1, 2, 9]
    assert replies[0]["result"] == "x" * 400 and replies[1]["result"] == "x" * 400
    for reply in replies[2:]:
        assert reply["error"] == {"code": -32003, "message": "response too large"}


def test_a_batch_of_raw_transactions_is_fast(node: NodeThread) -> None:
    """The node benchmark's hot path: a batch of 1000 signed transactions, each decoded, its
    sender recovered and handed to the pool (which refuses these: their senders have no
    funds). Every one is answered, with geth's message, and quickly (a generous bound: shared
    machines are slow)."""
    from supervm.chain.dev_accounts import DevAccount
    from supervm.crypto import keccak256

    senders = [DevAccount(i, bytes(20), keccak256(b"poor %d" % i)) for i in range(1000)]
    batch = [
        call(
            "eth_sendRawTransaction", i, ["0x" + node.sign(s, bytes(20), nonce=0, gas=21_000).hex()]
        )
        for i, s in enumerate(senders)
    ]
    started = time.perf_counter()
    replies = answer(node, batch)
    elapsed = time.perf_counter() - started
    assert [r["id"] for r in replies] == list(range(1000))
    from supervm.node.keyfile import address_of

    for reply, sender in zip(replies, senders, strict=True):
        assert reply["error"]["code"] == -32000
        message = reply["error"]["message"]
        assert message.startswith("insufficient funds for gas * price + value")
        # Each sender, recovered ahead by the batch's worker process, is the one it signed with.
        assert f"address 0x{address_of(sender.private_key).hex()} " in message
    assert elapsed < 10, f"a 1000-call batch took {elapsed:.2f} s"


def test_request_size_limit(strict_node: NodeThread) -> None:
    big = call("web3_sha3", 1, ["0x" + "00" * 3000])
    status, _headers, body = strict_node.post(big)
    assert status == 413 and b"content length too large" in body

    # Chunked, without a Content-Length: refused all the same.
    async def chunked() -> int:
        async def parts() -> Any:
            for _ in range(10):
                yield b" " * 1000
            yield json.dumps(call("eth_chainId")).encode()

        async with (
            aiohttp.ClientSession() as session,
            session.post(
                strict_node.url, data=parts(), headers={"Content-Type": "application/json"}
            ) as response,
        ):
            return response.status

    assert asyncio.run(chunked()) == 413
    assert strict_node.call("eth_chainId") == "0x7a69"  # still serving


def test_content_type_method_and_get(node: NodeThread) -> None:
    status, _headers, body = node.post(call("eth_chainId"), {"Content-Type": "text/html"})
    assert status == 415 and b"only application/json" in body
    assert (
        answer(node, call("eth_chainId"), **{"Content-Type": "application/json; charset=utf-8"})[
            "result"
        ]
        == "0x7a69"
    )

    async def other() -> tuple[int, str, int]:
        async with aiohttp.ClientSession() as session:
            async with session.get(node.url) as got:
                text = await got.text()
            async with session.put(node.url, data=b"{}") as put:
                return got.status, text, put.status

    status, text, put = asyncio.run(other())
    assert status == 200 and "JSON-RPC" in text and put == 405


def test_cors(strict_node: NodeThread) -> None:
    async def preflight(origin: str) -> tuple[int, dict[str, str]]:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.options(strict_node.url, headers=headers) as response,
        ):
            return response.status, dict(response.headers)

    status, headers = asyncio.run(preflight("http://allowed.example"))
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "content-type"
    status, headers = asyncio.run(preflight("http://evil.example"))
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _body = strict_node.post(
        call("eth_chainId"), {"Origin": "http://allowed.example"}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    status, headers, _body = strict_node.post(
        call("eth_chainId"), {"Origin": "http://evil.example"}
    )
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_host_allow_list(strict_node: NodeThread) -> None:
    port = strict_node.port
    for host in (
        f"localhost:{port}",
        "node.example",
        "NODE.example:80",
        f"127.0.0.1:{port}",
        "10.1.2.3",
        f"[::1]:{port}",
    ):
        status, _headers, _body = strict_node.post(call("eth_chainId"), {"Host": host})
        assert status == 200, host
    for host in ("evil.example", f"evil.example:{port}", "localhost.evil.example"):
        status, _headers, body = strict_node.post(call("eth_chainId"), {"Host": host})
        assert (status, body) == (403, b"invalid host specified\n"), host


def test_garbage_on_the_socket_and_slow_clients(strict_node: NodeThread) -> None:
    # Bytes that are not HTTP: the connection gets a 400 and is closed.
    with socket.create_connection(("127.0.0.1", strict_node.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n" + bytes(range(256)))
        reply = sock.recv(1024)
        assert reply.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), reply
    # A client that promises a body and stalls: cut off after the read timeout (0.5 s), while
    # another client is served meanwhile.
    with socket.create_connection(("127.0.0.1", strict_node.port), timeout=5) as stalled:
        stalled.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"jsonrpc":'
        )
        assert strict_node.call("eth_chainId") == "0x7a69"
        started = time.monotonic()
        reply = stalled.recv(1024)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert time.monotonic() - started < 3

    # A slow call of one client does not hold up another's.
    async def both() -> tuple[float, Any]:
        async with aiohttp.ClientSession() as session:
            slow = asyncio.create_task(
                session.post(strict_node.url, json=call("test_sleep", 1, [1.0]))
            )
            await asyncio.sleep(0.1)
            started = time.monotonic()
            async with session.post(strict_node.url, json=call("eth_chainId")) as quick:
                result = await quick.json()
            waited = time.monotonic() - started
            (await slow).close()
            return waited, result

    waited, result = asyncio.run(both())
    assert result["result"] == "0x7a69" and waited < 0.8
    assert strict_node.call("eth_blockNumber").startswith("0x")


def test_metrics_count_calls(node: NodeThread) -> None:
    metrics = node.host.metrics
    requests, success, failure = (
        metrics.value(n) for n in ("rpc_requests", "rpc_success", "rpc_failure")
    )
    node.call("eth_chainId")
    node.error("eth_getBalance", "0x12")
    node.error("eth_nothing")
    assert metrics.value("rpc_requests") == requests + 3
    assert metrics.value("rpc_success") == success + 1
    assert metrics.value("rpc_failure") == failure + 2
    series = {s.metric.name: s for s in metrics.collect()}
    assert series["rpc_duration_eth_chainId_success"].count >= 1
    assert series["rpc_duration_eth_getBalance_failure"].count >= 1
    # Every registered method has its pair declared, the plugins' too.
    declared = {m.name for m in metrics.describe()}
    assert {"rpc_duration_test_big_success", "rpc_duration_eth_call_failure"} <= declared


def test_pages_hook_serves_every_get_path(node: NodeThread) -> None:
    """A service's PAGES handler answers plain GETs at / and any other path; without one, /
    is the short text and other paths 404."""
    from aiohttp import web
    from supervm_rpc import PAGES

    async def pages(request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"page {request.path}")

    async def get(path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(node.url + path) as got:
            return got.status, await got.text()

    before = node.stash.get(PAGES)  # the explorer plugin's, when it is installed
    try:
        node.stash[PAGES] = pages
        assert asyncio.run(get("")) == (200, "page /")
        assert asyncio.run(get("js/app.js")) == (200, "page /js/app.js")
        del node.stash[PAGES]
        status, text = asyncio.run(get(""))
        assert status == 200 and "JSON-RPC endpoint" in text
        assert asyncio.run(get("js/app.js"))[0] == 404
    finally:
        if before is not None:
            node.stash[PAGES] = before
