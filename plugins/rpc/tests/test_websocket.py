"""JSON-RPC over WebSocket on the HTTP port: calls, batches, subscriptions (newHeads, logs,
newPendingTransactions), the message size limit, and clients that do not read."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from typing import Any

import aiohttp
from supervm.chain.dev_accounts import DevAccount
from supervm.tooling.abi import encode_call
from supervm_rpc.server import WsConnection
from supervm_rpc.testing import NodeThread, hx

RECEIVER = bytes.fromhex("d1" * 20)


def message(method: str, call_id: Any, *params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": call_id, "method": method, "params": list(params)})


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 20.0) -> Any:
    reply = await ws.receive(timeout)
    assert reply.type == aiohttp.WSMsgType.TEXT, reply
    return json.loads(reply.data)


async def until(ws: aiohttp.ClientWebSocketResponse, match: Any, timeout: float = 20.0) -> Any:
    """The next message ``match`` accepts (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await receive(ws, max(0.01, deadline - time.monotonic()))
        if match(got):
            return got


def test_calls_and_batches_over_websocket(node: NodeThread) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(node.ws_url) as ws:
            await ws.send_str(message("eth_chainId", 1))
            assert await receive(ws) == {"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}
            await ws.send_str(
                json.dumps(
                    [json.loads(message("net_version", "a")), json.loads(message("eth_nope", "b"))]
                )
            )
            batch = await receive(ws)
            assert batch[0]["result"] == "31337" and batch[1]["error"]["code"] == -32601
            await ws.send_str("{not json")
            assert (await receive(ws))["error"]["code"] == -32700
            await ws.send_bytes(message("eth_chainId", 2).encode())
            assert (await receive(ws))["result"] == "0x7a69"

    asyncio.run(run())


def test_subscriptions(node: NodeThread, token: dict[str, Any], accounts: list[DevAccount]) -> None:
    abi, address = token["abi"], token["address"]
    transfer = encode_call(abi, "transfer", [RECEIVER, 11])

    async def run() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(node.ws_url) as ws:
            await ws.send_str(message("eth_subscribe", 1, "newHeads"))
            heads = (await receive(ws))["result"]
            await ws.send_str(
                message(
                    "eth_subscribe",
                    2,
                    "logs",
                    {
                        "address": address,
                        "topics": [None, None, "0x" + RECEIVER.hex().rjust(64, "0")],
                    },
                )
            )
            logs = (await receive(ws))["result"]
            await ws.send_str(message("eth_subscribe", 3, "newPendingTransactions"))
            pending = (await receive(ws))["result"]
            await ws.send_str(message("eth_subscribe", 4, "newPendingTransactions", True))
            full = (await receive(ws))["result"]
            assert len({heads, logs, pending, full}) == 4
            tx_hash = await asyncio.to_thread(
                node.send, accounts[0], bytes.fromhex(address[2:]), transfer, gas=200_000
            )
            seen: dict[str, Any] = {}
            while len(seen) < 4 or "log" not in seen:
                got = await receive(ws)
                assert got["method"] == "eth_subscription" and "id" not in got
                subscription = got["params"]["subscription"]
                result = got["params"]["result"]
                if subscription == pending and result == tx_hash:
                    seen["pending"] = result
                elif subscription == full and result["hash"] == tx_hash:
                    seen["full"] = result
                elif subscription == logs:
                    seen["log"] = result
                elif subscription == heads:
                    seen["head"] = result
            receipt = await asyncio.to_thread(node.receipt, tx_hash)
            assert seen["log"] == receipt["logs"][0]
            assert seen["full"]["blockHash"] is None and seen["full"]["from"] == hx(
                accounts[0].address
            )
            head = seen["head"]
            assert int(head["number"], 16) >= int(receipt["blockNumber"], 16)
            block = await asyncio.to_thread(
                node.call, "eth_getBlockByNumber", head["number"], False
            )
            assert {k: block[k] for k in head} == head  # a header: the block without its body
            await ws.send_str(message("eth_unsubscribe", 5, heads))
            assert (await until(ws, lambda m: m.get("id") == 5))["result"] is True
            await ws.send_str(message("eth_unsubscribe", 6, heads))
            assert (await until(ws, lambda m: m.get("id") == 6))["result"] is False
            await ws.send_str(message("eth_subscribe", 7, "newBlocks"))
            assert (await until(ws, lambda m: m.get("id") == 7))["error"]["code"] == -32602

    asyncio.run(run())
    failure = node.error("eth_subscribe", "newHeads")
    assert (failure.code, failure.message) == (-32601, "notifications not supported")


def test_another_connection_cannot_cancel_a_subscription(node: NodeThread) -> None:
    async def run() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(node.ws_url) as one,
            session.ws_connect(node.ws_url) as two,
        ):
            await one.send_str(message("eth_subscribe", 1, "newHeads"))
            subscription = (await receive(one))["result"]
            await two.send_str(message("eth_unsubscribe", 1, subscription))
            assert (await receive(two))["result"] is False

    asyncio.run(run())


def test_oversized_message_closes_the_connection(strict_node: NodeThread) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(strict_node.ws_url) as ws:
            await ws.send_str(message("web3_sha3", 1, "0x" + "00" * 5000))
            reply = await ws.receive(5)
            assert reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1009  # message too big

    asyncio.run(run())
    assert strict_node.call("eth_chainId") == "0x7a69"


def test_origins_of_browsers_are_checked(strict_node: NodeThread) -> None:
    async def connect(origin: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(strict_node.ws_url, origin=origin):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(connect("http://allowed.example")) == 101
    assert asyncio.run(connect("http://evil.example")) == 403


def _ws_frame(text: bytes) -> bytes:
    """A masked client text frame."""
    mask = os.urandom(4)
    length = len(text)
    header = b"\x81" + (
        bytes((0x80 | length,)) if length < 126 else b"\xfe" + struct.pack(">H", length)
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))


def test_a_client_that_does_not_read_is_dropped(strict_node: NodeThread) -> None:
    """A raw client asks for large answers and never reads them: once the socket's buffers are
    full the server gives up on it (0.5 s send timeout, 8 queued frames) and keeps serving."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", strict_node.port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    handshake = sock.recv(4096)
    assert handshake.startswith(b"HTTP/1.1 101"), handshake
    request = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "test_big", "params": [3000]}
    ).encode()
    dropped = False
    deadline = time.monotonic() + 15
    try:
        while time.monotonic() < deadline:
            sock.sendall(_ws_frame(request) * 20)
            time.sleep(0.01)
    except OSError:  # reset by the server: it dropped us
        dropped = True
    finally:
        sock.close()
    assert dropped, "the server kept a client that never reads"
    assert strict_node.call("eth_chainId") == "0x7a69"


class _StuckSocket:
    """A WebSocket whose client never takes a frame."""

    async def send_str(self, text: str) -> None:
        await asyncio.sleep(3600)


class _Request:
    remote = "test"
    transport = None


def test_connection_queue_and_send_timeout() -> None:
    async def run() -> tuple[bool, bool]:
        slow = WsConnection(_StuckSocket(), _Request(), queue_size=100, send_timeout=0.05)  # type: ignore[arg-type]
        slow.send(b"{}")
        await asyncio.sleep(0.2)
        timed_out = slow.closed
        full = WsConnection(_StuckSocket(), _Request(), queue_size=2, send_timeout=60)  # type: ignore[arg-type]
        for _ in range(5):
            full.send(b"{}")
        await asyncio.sleep(0)
        return timed_out, full.closed

    assert asyncio.run(run()) == (True, True)
