"""py-evm against revm: the same pure-EVM transactions on two world states must end alike.

The revm backend hands transactions that touch WASM accounts to the py-evm backend, so the two
must agree on everything else: status, gas, return data, logs, created addresses and every
state change. Scenarios are hand-assembled, a Solidity contract is compiled with solc-js, and
hypothesis generates straight-line programs over storage, memory, logs and transient storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_abi.abi import decode, encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import Kernel
from supervm.chain.processor import TransactionResult
from supervm.chain.transactions import UnsignedTransaction
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv
from supervm.state.addresses import create_address
from supervm.state.world import WorldState
from supervm.tooling.abi import selector
from supervm.tooling.compilers import CompileSettings
from supervm_evm_revm_bridge.pyevm_backend import PyEvmBackend
from supervm_evm_revm_bridge.pyevm_testing import Item, assemble, deployer

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = bytes.fromhex("c0de" * 10)
OTHER = bytes.fromhex("0b" * 20)
ENV = BlockEnv(chain_id=1, number=100, timestamp=1_700_000_000, coinbase=bytes.fromhex("cc" * 20),
               gas_limit=30_000_000, base_fee=10, prev_randao=b"\x05" * 32,
               block_hashes=tuple(bytes([n % 256]) * 32 for n in range(99, 0, -1)))  # fmt: skip

Setup = Callable[[WorldState], None]

SOLIDITY = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Vault {
    mapping(address => uint256) public balances;
    uint256 public total;
    event Deposited(address indexed who, uint256 amount);

    constructor(uint256 start) payable { total = start; }

    function deposit() external payable {
        require(msg.value > 0, "nothing sent");
        balances[msg.sender] += msg.value;
        total += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    function withdraw(uint256 amount) external {
        require(balances[msg.sender] >= amount, "too much");
        balances[msg.sender] -= amount;
        total -= amount;
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok, "send failed");
    }

    function spawn(bytes32 salt) external returns (address a, address b) {
        a = address(new Child());
        b = address(new Child{salt: salt}());
    }
}

contract Child {
    uint256 public born = block.number;
}
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture(scope="module")
def engines(kernel: Kernel) -> tuple[object, PyEvmBackend]:
    revm = pytest.importorskip("supervm_evm_revm_bridge.revm_backend")
    return revm.RevmBackend(VMSettings()), PyEvmBackend(VMSettings())


def tx(to: bytes | None, data: bytes = b"", *, nonce: int = 0, value: int = 0,
       gas: int = 1_000_000, kind: int = 2) -> UnsignedTransaction:  # fmt: skip
    if kind == 2:
        fees = {"max_priority_fee_per_gas": 3, "max_fee_per_gas": 50}
    else:
        fees = {"gas_price": 20}
    return UnsignedTransaction(type=kind, chain_id=ENV.chain_id, nonce=nonce, gas=gas, to=to,
                               value=value, data=data, **fees)  # type: ignore[arg-type]  # fmt: skip


def run_both(
    kernel: Kernel,
    engines: tuple[object, PyEvmBackend],
    setup: Setup,
    transactions: list[UnsignedTransaction],
) -> list[TransactionResult]:
    """Apply ``transactions`` on both engines; assert they agree; py-evm's results."""
    outcomes = []
    for engine in engines:
        world = WorldState(kernel.open_storage("memory"))
        world.set_balance(SENDER, 10**20)
        setup(world)
        results = [engine.apply_transaction(t, SENDER, world, ENV) for t in transactions]  # type: ignore[attr-defined]
        outcomes.append((results, world))
    (revm_results, revm_world), (pyevm_results, pyevm_world) = outcomes
    for index, (a, b) in enumerate(zip(revm_results, pyevm_results, strict=True)):
        assert (a.status, a.gas_used, a.logs, a.contract_address) == (
            b.status, b.gas_used, b.logs, b.contract_address
        ), f"transaction {index}: revm {a} / py-evm {b}"  # fmt: skip
        if b.contract_address is None:
            assert a.return_data == b.return_data, f"transaction {index}"
        else:
            # A create's output is the deployed code (what geth's eth_call returns); pyrevm's
            # deploy() gives only the address, so the revm backend returns nothing.
            assert b.return_data == pyevm_world.code(b.contract_address)
    # The same state, key by key (one engine may delete a key the other never wrote).
    changed = set(revm_world.changes()) | set(pyevm_world.changes())
    assert {k: revm_world.peek(k) for k in changed} == {k: pyevm_world.peek(k) for k in changed}
    return pyevm_results


def code_at(runtime: bytes, address: bytes = CONTRACT) -> Setup:
    def setup(world: WorldState) -> None:
        world.set_code(address, runtime)
        world.set_nonce(address, 1)

    return setup


SCENARIOS: dict[str, tuple[bytes, bytes, int]] = {
    # name: (runtime, calldata, value)
    "store and return": (
        assemble(0, "CALLDATALOAD", 0, "SSTORE", 42, 0, "MSTORE", 32, 0, "RETURN"),
        (7).to_bytes(32, "big"), 0,
    ),
    "revert with data": (assemble(1, 1, "SSTORE", b"no", 0, "MSTORE", 2, 30, "REVERT"), b"", 5),
    "out of gas loop": (assemble("@l", 1, 1, "SSTORE", ":l", "JUMP"), b"", 0),
    "invalid opcode": (b"\xfe", b"", 0),
    "logs": (assemble(5, 0, "MSTORE", "CALLER", 1, 2, 32, 0, "LOG3", "STOP"), b"", 0),
    "pay on": (assemble(0, 0, 0, 0, "CALLVALUE", OTHER, "GAS", "CALL", 0, "SSTORE"), b"", 9),
    "self balance and env": (
        assemble("SELFBALANCE", 0, "SSTORE", "COINBASE", "BALANCE", 1, "SSTORE",
                 "BASEFEE", 2, "SSTORE", 99, "BLOCKHASH", 3, "SSTORE", "GASPRICE", 4, "SSTORE"),
        b"", 3,
    ),
    "selfdestruct": (assemble(OTHER, "SELFDESTRUCT"), b"", 11),
    "transient": (assemble(5, 3, "TSTORE", 3, "TLOAD", 0, "SSTORE", "STOP"), b"", 0),
    "precompile sha256": (
        assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", 32, 0, "CALLDATASIZE", 0, 2, "GAS",
                 "STATICCALL", "POP", 0, "MLOAD", 0, "SSTORE"),
        b"abc", 0,
    ),
    "clear a slot": (assemble(0, 0, "SSTORE", "STOP"), b"", 0),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_agree(kernel: Kernel, engines: tuple[object, PyEvmBackend], name: str) -> None:
    runtime, calldata, value = SCENARIOS[name]

    def setup(world: WorldState) -> None:
        code_at(runtime)(world)
        world.set_storage(CONTRACT, bytes(32), (1).to_bytes(32, "big"))

    results = run_both(kernel, engines, setup, [tx(CONTRACT, calldata, value=value)])
    assert results[0].gas_used > 21000


def test_creates_agree(kernel: Kernel, engines: tuple[object, PyEvmBackend]) -> None:
    child = assemble(1, 0, "MSTORE", 32, 0, "RETURN")
    failing = assemble(0, 0, "REVERT")
    transactions = [
        tx(None, deployer(child)),
        tx(None, failing, nonce=1),
        tx(None, deployer(b"\xef" + child), nonce=2, kind=0),  # EIP-3541 refuses 0xef code
        tx(None, assemble(OTHER, "SELFDESTRUCT"), nonce=3, value=4),
    ]
    results = run_both(kernel, engines, lambda world: None, transactions)
    assert [r.status for r in results] == [1, 0, 0, 1]


@st.composite
def programs(draw: st.DrawFn) -> bytes:
    """Straight-line code over storage, memory, transient storage and logs (always valid)."""
    items: list[Item] = []
    for _ in range(draw(st.integers(1, 12))):
        value = draw(st.sampled_from([0, 1, 2, 255, 2**255, 2**256 - 1]))
        slot = draw(st.integers(0, 3))
        op = draw(st.sampled_from(["sstore", "sload", "tstore", "mstore", "log", "add", "mul"]))
        if op == "sstore":
            items += [value, slot, "SSTORE"]
        elif op == "sload":
            items += [slot, "SLOAD", slot + 4, "SSTORE"]
        elif op == "tstore":
            items += [value, slot, "TSTORE", slot, "TLOAD", slot + 8, "SSTORE"]
        elif op == "mstore":
            items += [value, slot * 32, "MSTORE", "MSIZE", slot + 12, "SSTORE"]
        elif op == "log":
            items += [value, slot * 7, 0, "LOG1"]
        else:
            items += [value, slot, op.upper(), slot + 16, "SSTORE"]
    if draw(st.booleans()):
        items += [0, 0, "REVERT"]
    return assemble(items)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(program=programs(), preset=st.integers(0, 2))
def test_generated_programs_agree(
    kernel: Kernel, engines: tuple[object, PyEvmBackend], program: bytes, preset: int
) -> None:
    def setup(world: WorldState) -> None:
        code_at(program)(world)
        for slot in range(preset):
            world.set_storage(CONTRACT, slot.to_bytes(32, "big"), (slot + 1).to_bytes(32, "big"))

    run_both(kernel, engines, setup, [tx(CONTRACT), tx(CONTRACT, nonce=1)])


# -- a Solidity contract, compiled with solc-js ------------------------------------------------


@pytest.fixture(scope="module")
def vault(kernel: Kernel, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The Vault's and the Child's creation code (solc-js, evmVersion cancun)."""
    source = tmp_path_factory.mktemp("sol") / "Vault.sol"
    source.write_text(SOLIDITY)
    try:
        artifacts = kernel.compilers().get("solc").compile([Path(source)], CompileSettings())
    except Exception as exc:  # no Node.js or solc-js here: say so and skip
        pytest.skip(f"cannot compile Solidity here: {exc}")
    found = {a.name: a.bytecode for a in artifacts}
    return found["Vault"], found["Child"]


@pytest.mark.slow
def test_a_solidity_contract_agrees_on_both_engines(
    kernel: Kernel, engines: tuple[object, PyEvmBackend], vault: tuple[bytes, bytes]
) -> None:
    creation, _child = vault
    address = create_address(SENDER, 0)
    calls = [
        tx(None, creation + encode(["uint256"], [5]), value=1),
        tx(address, selector("deposit()"), nonce=1, value=1000),
        tx(address, selector("deposit()"), nonce=2),  # reverts: "nothing sent"
        tx(address, selector("withdraw(uint256)") + encode(["uint256"], [400]), nonce=3),
        tx(address, selector("withdraw(uint256)") + encode(["uint256"], [4000]), nonce=4),
        tx(address, selector("total()"), nonce=5),
        tx(address, selector("spawn(bytes32)") + b"\x01" * 32, nonce=6),
    ]
    results = run_both(kernel, engines, lambda world: None, calls)
    assert [r.status for r in results] == [1, 1, 0, 1, 0, 1, 1]
    assert results[0].contract_address == address
    (log,) = results[1].logs
    assert log.address == address and log.topics[1] == bytes(12) + SENDER
    assert decode(["string"], results[2].return_data[4:]) == ("nothing sent",)
    assert decode(["uint256"], results[5].return_data) == (5 + 1000 - 400,)
    first, second = decode(["address", "address"], results[6].return_data)
    assert int(first, 16) and int(second, 16)
