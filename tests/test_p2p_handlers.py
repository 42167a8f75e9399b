"""Peer-to-peer handlers registered through ``supervm_register_p2p_handlers``."""

from __future__ import annotations

import asyncio

import pytest
from supervm import (
    DuplicateNameError,
    Kernel,
    Metrics,
    PeerMessage,
    PluginError,
    ServiceContext,
    Stash,
    hookimpl,
)
from supervm.plugins.registry import P2PHandlerRegistry
from supervm.services.p2p import deliver

received: list[PeerMessage] = []


def on_transactions(message: PeerMessage, context: ServiceContext) -> None:
    received.append(message)


async def on_status(message: PeerMessage, context: ServiceContext) -> bytes:
    await asyncio.sleep(0)
    return b"status:" + message.payload


class GossipPlugin:
    @hookimpl
    def supervm_register_p2p_handlers(self, registry: P2PHandlerRegistry) -> None:
        registry.add_handler("/supervm/tx/1", on_transactions)
        registry.add_handler("eth/68", on_status)


def kernel_of(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


@pytest.fixture
def context() -> ServiceContext:
    return ServiceContext(kernel_of(), Stash(), Metrics(), "p2p")


def test_handlers_are_registered_per_protocol() -> None:
    registry = kernel_of(("gossip", GossipPlugin())).p2p_handlers()
    assert registry.protocols() == ["/supervm/tx/1", "eth/68"]
    assert registry.entry("eth/68").plugin == "gossip"
    assert registry.find("/supervm/tx/1") is on_transactions
    assert registry.find("/supervm/blocks/1") is None


def test_deliver_calls_sync_and_async_handlers(context: ServiceContext) -> None:
    registry = kernel_of(("gossip", GossipPlugin())).p2p_handlers()
    received.clear()
    tx = PeerMessage("/supervm/tx/1", "peer-1", b"\x01\x02")
    status = PeerMessage("eth/68", "peer-2", b"hello")

    async def main() -> tuple[bytes | None, bytes | None]:
        tx_handler, status_handler = registry.find(tx.protocol_id), registry.find("eth/68")
        assert tx_handler is not None and status_handler is not None
        return await deliver(tx_handler, tx, context), await deliver(
            status_handler, status, context
        )

    assert asyncio.run(main()) == (None, b"status:hello")
    assert received == [tx]


def test_a_reply_must_be_bytes(context: ServiceContext) -> None:
    message = PeerMessage("eth/68", "peer", b"")
    with pytest.raises(TypeError, match="handler for eth/68 returned str, expected bytes or None"):
        asyncio.run(deliver(lambda m, c: "oops", message, context))  # type: ignore[arg-type,return-value]


def test_duplicate_protocols_are_rejected_naming_both_plugins() -> None:
    with pytest.raises(DuplicateNameError) as info:
        kernel_of(("first", GossipPlugin()), ("second", GossipPlugin())).p2p_handlers()
    assert str(info.value) == (
        "p2p protocol '/supervm/tx/1' registered twice: by first and by second"
    )


@pytest.mark.parametrize("protocol_id", ["", "eth 68", "/supervm/tx/1\n"])
def test_protocol_ids_are_printable_without_spaces(protocol_id: str) -> None:
    class Bad:
        @hookimpl
        def supervm_register_p2p_handlers(self, registry: P2PHandlerRegistry) -> None:
            registry.add_handler(protocol_id, on_transactions)

    with pytest.raises(PluginError, match=r"^bad: p2p protocol id .* must be non-empty"):
        kernel_of(("bad", Bad())).p2p_handlers()


def test_handlers_must_be_callable() -> None:
    class Bad:
        @hookimpl
        def supervm_register_p2p_handlers(self, registry: P2PHandlerRegistry) -> None:
            registry.add_handler("eth/68", None)  # type: ignore[arg-type]

    with pytest.raises(PluginError, match="handler for eth/68 is not callable"):
        kernel_of(("bad", Bad())).p2p_handlers()
