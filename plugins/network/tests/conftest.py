"""Nodes on loopback for the network's tests: each a ServiceHost on its own thread and event
loop (``supervm_rpc.testing.NodeThread``) with its own kernel, a single-authority
proof-of-authority chain, JSON-RPC on a free port and the network on another.

The ``loopback`` fixture starts them (``loopback.start("v", validator=True)``) and stops every
node it started at the end of the test."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from supervm import Kernel
from supervm.chain.dev_accounts import DevAccount, dev_account, dev_accounts
from supervm.chain.transactions import UnsignedTransaction, encode_transaction, sign_transaction
from supervm.node import CHAIN, ENDPOINTS, NodeConfig
from supervm_consensus_poa.genesis import poa_genesis
from supervm_network.network import NETWORK, Network
from supervm_rpc.testing import NodeThread

T = TypeVar("T")

#: The authority: dev account 0.
AUTHORITY = dev_account(0)


def write_genesis(directory: Path) -> Path:
    """A single-authority poa genesis funding the dev accounts."""
    path = directory / "genesis.json"
    data = poa_genesis([AUTHORITY.address], accounts=[a.address for a in dev_accounts()], period=0)
    path.write_text(json.dumps(data))
    return path


def write_key(directory: Path, account: DevAccount = AUTHORITY) -> Path:
    path = directory / "validator.key"
    path.write_text(account.private_key.hex())
    os.chmod(path, 0o600)
    return path


class Node:
    """A running node and what tests read from it."""

    def __init__(self, thread: NodeThread, kernel: Kernel, data_dir: Path) -> None:
        self.thread = thread
        self.kernel = kernel
        self.data_dir = data_dir

    @property
    def p2p(self) -> str:
        return self.thread.stash[ENDPOINTS]["p2p"]

    @property
    def network(self) -> Network:
        return self.thread.stash[NETWORK]

    def head(self) -> tuple[int, bytes, bytes]:
        """Number, hash and state root of the head."""
        header = self.thread.stash[CHAIN].head
        return header.number, header.hash, header.state_root

    def call(self, method: str, *params: Any) -> Any:
        return self.thread.call(method, *params)

    def stop(self) -> None:
        try:
            self.thread.stop()
        finally:
            self.kernel.close()


def start_node(
    directory: Path,
    genesis: Path,
    *,
    validator: Path | None = None,
    bootnodes: tuple[str, ...] = (),
    max_peers: int = 25,
) -> Node:
    directory.mkdir(parents=True, exist_ok=True)
    kernel = Kernel.from_plugins(env={})
    config = NodeConfig(
        data_dir=directory,
        genesis=genesis,
        rpc_port=0,
        validator_key=validator,
        explorer=False,
        p2p_port=0,
        bootnodes=bootnodes,
        max_peers=max_peers,
    )
    try:
        thread = NodeThread(kernel, config)
    except BaseException:
        kernel.close()
        raise
    return Node(thread, kernel, directory)


def wait_for(what: str, check: Callable[[], T], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def transfer(sender: DevAccount, nonce: int, *, chain_id: int = 31337, value: int = 1) -> str:
    """A signed transfer to dev account 9, as hex for eth_sendRawTransaction."""
    tx = sign_transaction(
        UnsignedTransaction(
            type=2,
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=10**9,
            max_fee_per_gas=10**11,
            gas=21_000,
            to=dev_account(9).address,
            value=value,
        ),
        sender.private_key,
    )
    return "0x" + encode_transaction(tx).hex()


class Loopback:
    """Starts nodes of one chain in a test's directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.genesis = write_genesis(directory)
        self.key = write_key(directory)
        self.nodes: list[Node] = []
        self.wait_for = wait_for
        self.transfer = transfer

    def start(
        self,
        name: str,
        *,
        validator: bool = False,
        bootnodes: tuple[str, ...] = (),
        max_peers: int = 25,
    ) -> Node:
        node = start_node(
            self.directory / name,
            self.genesis,
            validator=self.key if validator else None,
            bootnodes=bootnodes,
            max_peers=max_peers,
        )
        self.nodes.append(node)
        return node

    def stop(self, node: Node) -> None:
        self.nodes.remove(node)
        node.stop()

    def stop_all(self) -> None:
        while self.nodes:
            self.nodes.pop().stop()


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    net = Loopback(tmp_path)
    try:
        yield net
    finally:
        net.stop_all()
