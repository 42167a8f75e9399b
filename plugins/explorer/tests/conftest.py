"""A dev node in a thread (the installed plugins' services, the explorer among them), the
example ERC20 compiled once, deployed and transferred, for the ``supervm_`` method tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from supervm import Kernel
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm.node import NodeConfig
from supervm.tooling.abi import encode_call
from supervm.tooling.artifacts import artifact_to_json
from supervm.tooling.compilers import Artifact
from supervm_rpc.testing import NodeThread, compile_contract

REPO = Path(__file__).resolve().parents[3]
ERC20_SOURCE = REPO / "examples" / "contracts" / "erc20-as" / "assembly" / "index.ts"
SUPPLY = 1_000_000 * 10**18


@pytest.fixture(scope="session")
def accounts() -> list[DevAccount]:
    return dev_accounts()


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture(scope="session")
def erc20(kernel: Kernel) -> Artifact:
    """The example ERC20, compiled once through the kernel's compiler registry."""
    return compile_contract(kernel, ERC20_SOURCE, REPO / "node_modules")


@pytest.fixture(scope="session")
def erc20_json(erc20: Artifact) -> dict[str, Any]:
    return artifact_to_json(erc20)


@pytest.fixture(scope="session")
def node(kernel: Kernel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    config = NodeConfig(dev=True, data_dir=tmp_path_factory.mktemp("node"), rpc_port=0)
    running = NodeThread(kernel, config)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def token(node: NodeThread, erc20: Artifact, accounts: list[DevAccount]) -> dict[str, Any]:
    """The ERC20 deployed by account 0 (before any artifact is registered) and one transfer
    of 250 tokens to account 1: the token's address and both receipts."""
    arguments = encode(["string", "string", "uint256"], ["Super Token", "SUP", SUPPLY])
    deploy = node.receipt(node.send(accounts[0], None, erc20.bytecode + arguments, gas=9_000_000))
    assert deploy["status"] == "0x1", deploy
    address = bytes.fromhex(deploy["contractAddress"][2:])
    data = encode_call(erc20.abi, "transfer", ["0x" + accounts[1].address.hex(), 250 * 10**18])
    transfer = node.receipt(node.send(accounts[0], address, data, gas=500_000))
    assert transfer["status"] == "0x1", transfer
    return {"address": deploy["contractAddress"], "deploy": deploy, "transfer": transfer}
