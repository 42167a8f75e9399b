"""The revm backend behind a real dev node's JSON-RPC: ``eth_call`` and ``eth_estimateGas``
without a gas field (the node's RPC gas cap, above the block's gas limit) and at earlier
blocks (a state read through the tries, which cannot be listed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from supervm import Kernel
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm.node import NodeConfig
from supervm.tooling.abi import selector
from supervm.tooling.compilers import CompileSettings
from supervm_rpc.testing import NodeThread, hx

pytestmark = pytest.mark.slow  # solc runs in a node process

REPO = Path(__file__).resolve().parents[3]
SOURCE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Bank {
    mapping(address => uint256) public balanceOf;
    constructor() { balanceOf[msg.sender] = 1000; }
    function move(address to, uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "short");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }
    function limits() external view returns (uint256, uint256) {
        return (block.gaslimit, gasleft());
    }
}
"""
OTHER = bytes.fromhex("0000000000000000000000000000000000000b0b")
BLOCK_GAS_LIMIT = 30_000_000
RPC_GAS_CAP = 50_000_000
GAS = hex(1_000_000)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as kernel:
        yield kernel


@pytest.fixture(scope="module")
def node(kernel: Kernel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    config = NodeConfig(dev=True, data_dir=tmp_path_factory.mktemp("node"), rpc_port=0)
    running = NodeThread(kernel, config)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def owner() -> DevAccount:
    return dev_accounts()[0]


@pytest.fixture(scope="module")
def bank(
    kernel: Kernel, node: NodeThread, owner: DevAccount, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The contract deployed by ``owner`` (holding 1000), then all of it moved to OTHER: the
    block numbers before and after the move."""
    source = tmp_path_factory.mktemp("sol") / "Bank.sol"
    source.write_text(SOURCE)
    entry = kernel.compilers().for_path(source)
    assert entry is not None
    (artifact,) = entry.value.compile([source], CompileSettings(node_modules=REPO / "node_modules"))
    deployed = node.receipt(node.send(owner, None, artifact.bytecode, gas=2_000_000))
    assert deployed["status"] == "0x1", deployed
    address = bytes.fromhex(deployed["contractAddress"][2:])
    moved = node.receipt(node.send(owner, address, _move(OTHER, 1000), gas=200_000))
    assert moved["status"] == "0x1", moved
    assert int(deployed["blockNumber"], 16) < int(moved["blockNumber"], 16)
    return {"address": address, "before": deployed["blockNumber"], "after": moved["blockNumber"]}


def _move(to: bytes, amount: int) -> bytes:
    return selector("move(address,uint256)") + encode(["address", "uint256"], [hx(to), amount])


def _balance_of(who: bytes) -> bytes:
    return selector("balanceOf(address)") + encode(["address"], [hx(who)])


def _call(owner: DevAccount, bank: dict[str, Any], data: bytes, **extra: str) -> dict[str, str]:
    return {"from": hx(owner.address), "to": hx(bank["address"]), "data": hx(data), **extra}


def test_eth_call_without_gas_runs_with_the_gas_cap_above_the_block_gas_limit(
    node: NodeThread, owner: DevAccount, bank: dict[str, Any]
) -> None:
    limits = selector("limits()")
    # No gas field: the node's cap (50,000,000), more than the block's 30,000,000. revm refused
    # this (CallerGasLimitMoreThanBlock) before simulations lifted its block gas limit.
    raw = node.call("eth_call", _call(owner, bank, limits), "latest")
    gas_limit, gas_left = decode(["uint256", "uint256"], bytes.fromhex(raw[2:]))
    assert gas_limit == RPC_GAS_CAP  # documented: GASLIMIT reads the lifted limit then
    assert RPC_GAS_CAP - 30_000 < gas_left < RPC_GAS_CAP - 21_000
    # With gas within the block's, GASLIMIT reads the block's, as on geth.
    raw = node.call("eth_call", _call(owner, bank, limits, gas=hex(1_000_000)), "latest")
    gas_limit, gas_left = decode(["uint256", "uint256"], bytes.fromhex(raw[2:]))
    assert (gas_limit, gas_left < 1_000_000) == (BLOCK_GAS_LIMIT, True)


def test_eth_estimate_gas_without_and_above_the_block_gas_limit(
    node: NodeThread, owner: DevAccount, bank: dict[str, Any]
) -> None:
    balance = _balance_of(owner.address)
    estimate = int(node.call("eth_estimateGas", _call(owner, bank, balance)), 16)
    assert 21_000 < estimate < 40_000
    # Asking for more than the block has: searched under the cap, as geth does.
    big = _call(owner, bank, balance, gas=hex(40_000_000))
    assert int(node.call("eth_estimateGas", big), 16) == estimate
    failure = node.error("eth_estimateGas", _call(owner, bank, _move(OTHER, 1)))
    assert "short" in failure.message or "revert" in failure.message


def test_eth_call_at_an_earlier_block_reads_that_blocks_storage(
    node: NodeThread, owner: DevAccount, bank: dict[str, Any]
) -> None:
    balance = _balance_of(owner.address)
    then = node.call("eth_call", _call(owner, bank, balance, gas=GAS), bank["before"])
    now = node.call("eth_call", _call(owner, bank, balance, gas=GAS), "latest")
    assert (int(then, 16), int(now, 16)) == (1000, 0)


def test_a_call_that_needs_an_earlier_blocks_slot_to_succeed_succeeds_there(
    node: NodeThread, owner: DevAccount, bank: dict[str, Any]
) -> None:
    # (Each with gas within the block's: what is tested here is the earlier block's state.)
    # The first run reads the owner's balance as revm's empty database has it (0) and
    # reverts, and a reverted run's journal forgets what it read: the whole storage would be
    # needed, which an earlier block's state cannot list; the transaction goes to py-evm.
    move = _move(OTHER, 600)
    then = node.call("eth_call", _call(owner, bank, move, gas=GAS), bank["before"])
    assert decode(["bool"], bytes.fromhex(then[2:])) == (True,)
    gas = int(node.call("eth_estimateGas", _call(owner, bank, move, gas=GAS), bank["before"]), 16)
    assert 21_000 < gas < 100_000
    failure = node.error("eth_call", _call(owner, bank, move, gas=GAS), "latest")
    assert "short" in failure.message or "revert" in failure.message
    # The simulations changed nothing: a real transaction still finds the state as it is.
    assert int(node.call("eth_call", _call(owner, bank, _balance_of(OTHER)), "latest"), 16) == 1000
