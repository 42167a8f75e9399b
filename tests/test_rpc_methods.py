"""JSON-RPC methods registered through ``supervm_register_rpc_methods``, and how a server finds
and calls them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from supervm import (
    DuplicateNameError,
    Kernel,
    Metrics,
    PluginError,
    ServiceContext,
    Stash,
    StashKey,
    hookimpl,
)
from supervm.plugins.registry import RpcMethodRegistry
from supervm.services.rpc import INVALID_PARAMS, RpcError, RpcParams, namespace_of

BALANCES = StashKey[dict[str, int]]("balances")


def chain_id(params: RpcParams, context: ServiceContext) -> str:
    return "0x539"


async def get_balance(params: RpcParams, context: ServiceContext) -> str:
    await asyncio.sleep(0)
    if not isinstance(params, list) or len(params) != 2:
        raise RpcError(INVALID_PARAMS, "expected [address, block]")
    return hex(context.stash.get(BALANCES, {}).get(params[0], 0))


class EthPlugin:
    @hookimpl
    def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
        registry.add_method("eth_chainId", chain_id)
        registry.add_method("eth_getBalance", get_balance)


class NetPlugin:
    @hookimpl
    def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
        registry.add_method("net_version", lambda params, context: "1337")
        registry.add_method("web3_clientVersion", lambda params, context: "supervm/0.1.0")


def kernel_of(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


@pytest.fixture
def registry() -> RpcMethodRegistry:
    return kernel_of(("eth_api", EthPlugin()), ("net_api", NetPlugin())).rpc_methods()


@pytest.fixture
def context() -> ServiceContext:
    return ServiceContext(kernel_of(), Stash(), Metrics(), "rpc")


def test_methods_are_registered_by_name_with_their_plugin(registry: RpcMethodRegistry) -> None:
    assert registry.names() == [
        "eth_chainId",
        "eth_getBalance",
        "net_version",
        "web3_clientVersion",
    ]
    assert registry.entry("eth_chainId").plugin == "eth_api"
    assert registry.entry("net_version").plugin == "net_api"
    method = registry.get("eth_getBalance")
    assert method.name == "eth_getBalance" and method.namespace == "eth"
    assert method.handler is get_balance


def test_namespaces_are_the_prefix_before_the_first_underscore(
    registry: RpcMethodRegistry,
) -> None:
    assert registry.namespaces() == ["eth", "net", "web3"]
    assert [m.name for m in registry.methods("eth")] == ["eth_chainId", "eth_getBalance"]
    assert registry.methods("debug") == []
    assert namespace_of("debug_trace_block") == "debug"


def test_a_dispatcher_finds_methods_in_the_enabled_namespaces(registry: RpcMethodRegistry) -> None:
    assert registry.find("eth_chainId") is registry.get("eth_chainId")
    assert registry.find("eth_nope") is None  # JSON-RPC's "method not found"
    assert registry.find("net_version", namespaces=["eth", "web3"]) is None
    found = registry.find("net_version", namespaces=["net"])
    assert found is not None and found.name == "net_version"


def test_sync_and_async_handlers_are_called_alike(
    registry: RpcMethodRegistry, context: ServiceContext
) -> None:
    context.stash[BALANCES] = {"0xaa": 255}

    async def main() -> list[Any]:
        return [
            await registry.get("eth_chainId").call([], context),
            await registry.get("eth_getBalance").call(["0xaa", "latest"], context),
            await registry.get("net_version").call({}, context),
        ]

    assert asyncio.run(main()) == ["0x539", "0xff", "1337"]


def test_handlers_answer_errors_with_rpc_error(
    registry: RpcMethodRegistry, context: ServiceContext
) -> None:
    with pytest.raises(RpcError) as info:
        asyncio.run(registry.get("eth_getBalance").call(["0xaa"], context))
    assert (info.value.code, info.value.message, info.value.data) == (
        INVALID_PARAMS,
        "expected [address, block]",
        None,
    )


def test_duplicate_method_names_are_rejected_naming_both_plugins() -> None:
    class Again:
        @hookimpl
        def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
            registry.add_method("eth_chainId", chain_id)

    kernel = kernel_of(("eth_api", EthPlugin()), ("other", Again()))
    with pytest.raises(DuplicateNameError) as info:
        kernel.rpc_methods()
    assert str(info.value) == (
        "JSON-RPC method 'eth_chainId' registered twice: by eth_api and by other"
    )


@pytest.mark.parametrize(
    "name", ["", "chainId", "eth_", "_chainId", "Eth_chainId", "eth chainId", "eth_chainId\n"]
)
def test_method_names_need_a_namespace(name: str) -> None:
    class Bad:
        @hookimpl
        def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
            registry.add_method(name, chain_id)

    with pytest.raises(
        PluginError, match=r"^bad: JSON-RPC method name .* must be namespace_method"
    ):
        kernel_of(("bad", Bad())).rpc_methods()


def test_handlers_must_be_callable() -> None:
    class Bad:
        @hookimpl
        def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
            registry.add_method("eth_chainId", "0x1")  # type: ignore[arg-type]

    with pytest.raises(PluginError, match="handler for eth_chainId is not callable"):
        kernel_of(("bad", Bad())).rpc_methods()
