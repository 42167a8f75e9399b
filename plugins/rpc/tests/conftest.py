"""Real nodes for the JSON-RPC tests: a kernel from the installed plugins, a dev chain, the pool,
the block producer and the RPC server in a ServiceHost, run in a background thread's event loop
and reached over real sockets.

- ``node``: the node as ``supervm node --dev`` runs it (port 0), shared by the session, with the
  example ERC20 deployed by a signed create transaction (``token``);
- ``strict_node``: small limits, CORS and a host allow-list, short timeouts;
- ``poolless_node``: no mempool plugin service, so no way in for transactions.

The node helper itself is :class:`supervm_rpc.testing.NodeThread`.

Both kernels carry ``ExtraMethods``, a plugin adding ``test_*`` methods through
``supervm_register_rpc_methods`` the way a third-party plugin would.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_abi import encode
from supervm import Kernel, hookimpl
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm.execution.wasm_binary import with_end_marker
from supervm.node import NodeConfig
from supervm.plugins.registry import RpcMethodRegistry, ServiceRegistry
from supervm.services.rpc import RpcError, RpcParams
from supervm.services.service import ServiceContext
from supervm.tooling.abi import encode_call
from supervm.tooling.compilers import Artifact
from supervm_rpc import RpcService
from supervm_rpc.testing import NodeThread, compile_contract, hx

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[3]
ERC20_SOURCE = REPO / "examples" / "contracts" / "erc20-as" / "assembly" / "index.ts"
CHAIN_ID = 31337
SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


# --- a third-party plugin's methods ---------------------------------------------------------------


async def _sleep(params: RpcParams, context: ServiceContext) -> str:
    assert isinstance(params, list)
    await asyncio.sleep(float(params[0]))
    return "slept"


def _big(params: RpcParams, context: ServiceContext) -> str:
    assert isinstance(params, list)
    return "x" * int(params[0])


def _boom(params: RpcParams, context: ServiceContext) -> None:
    raise ValueError("the plugin broke")


def _refuse(params: RpcParams, context: ServiceContext) -> None:
    raise RpcError(-32099, "refused by the plugin", {"why": "testing"})


class ExtraMethods:
    """Methods a plugin adds through the kernel's registry."""

    @hookimpl
    def supervm_register_rpc_methods(self, registry: RpcMethodRegistry) -> None:
        registry.add_method("test_sleep", _sleep)
        registry.add_method("test_big", _big)
        registry.add_method("test_boom", _boom)
        registry.add_method("test_refuse", _refuse)
        registry.add_method("test_bigint", lambda params, context: 2**70)
        registry.add_method("test_named", lambda params, context: params)


# --- a node in a thread ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def accounts() -> list[DevAccount]:
    return dev_accounts()


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}, extra=[("rpc_test_extras", ExtraMethods())]) as k:
        yield k


@pytest.fixture(scope="session")
def erc20(kernel: Kernel) -> Artifact:
    """The example ERC20, compiled once (through the kernel's compiler registry)."""
    return compile_contract(kernel, ERC20_SOURCE, REPO / "node_modules")


def _services(kernel: Kernel, rpc: RpcService, *, pool: bool = True) -> ServiceRegistry:
    """The kernel's services with ``rpc`` in place of the registered server (and without the
    pool if ``pool`` is false)."""
    registered = kernel.services()
    registry = ServiceRegistry()
    for entry in registered.entries():
        if entry.name == "rpc" or (entry.name == "txpool" and not pool):
            continue
        after = [n for n in registered.after(entry.name) if pool or n != "txpool"]
        registry.add_service(entry.name, entry.value, after=after)
    registry.add_service("rpc", rpc, after=["chain", "txpool"] if pool else ["chain"])
    return registry


@pytest.fixture(scope="session")
def node(kernel: Kernel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    config = NodeConfig(dev=True, data_dir=tmp_path_factory.mktemp("node"), rpc_port=0)
    running = NodeThread(kernel, config)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def token(node: NodeThread, erc20: Artifact, accounts: list[DevAccount]) -> dict[str, Any]:
    """The ERC20 deployed on ``node`` by account 0: its address, the deploy receipt, its ABI."""
    arguments = encode(["string", "string", "uint256"], ["Super Token", "SUP", SUPPLY])
    tx_hash = node.send(
        accounts[0], None, with_end_marker(erc20.bytecode) + arguments, gas=9_000_000
    )
    receipt = node.receipt(tx_hash)
    assert receipt["status"] == "0x1", receipt
    return {"address": receipt["contractAddress"], "receipt": receipt, "abi": erc20.abi}


def calldata(abi: Any, name: str, *args: Any) -> str:
    return hx(encode_call(abi, name, list(args)))


STRICT = NodeConfig(
    dev=True,
    rpc_port=0,
    max_request_bytes=4096,
    max_batch=5,
    max_batch_response_bytes=600,
    cors_origins=("http://allowed.example",),
    vhosts=("localhost", "node.example"),
)


@pytest.fixture(scope="session")
def strict_node(kernel: Kernel) -> Iterator[NodeThread]:
    with tempfile.TemporaryDirectory() as tmp:
        config = NodeConfig(**{**_fields(STRICT), "data_dir": Path(tmp)})
        rpc = RpcService(read_timeout=0.5, send_timeout=0.5, send_queue=8, filter_timeout=0.5)
        running = NodeThread(kernel, config, _services(kernel, rpc))
        yield running
        running.stop()


@pytest.fixture(scope="session")
def poolless_node(kernel: Kernel) -> Iterator[NodeThread]:
    with tempfile.TemporaryDirectory() as tmp:
        config = NodeConfig(dev=True, rpc_port=0, data_dir=Path(tmp))
        running = NodeThread(kernel, config, _services(kernel, RpcService(), pool=False))
        yield running
        running.stop()


def _fields(config: NodeConfig) -> dict[str, Any]:
    import attrs

    return attrs.asdict(config, recurse=False)
