"""The revm backend against the kernel's WorldState: whole transactions and message calls.

Gas figures are worked out by Ethereum's Cancun rules in each test's comment; the contracts are
hand-assembled (so each test names the opcodes it exercises) except one compiled with solc.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi.abi import decode, encode
from supervm import Kernel, WorldState
from supervm.chain.processor import TransactionEngine
from supervm.chain.transactions import UnsignedTransaction
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv, ErrorKind, ExecutionContext
from supervm.state.addresses import create_address
from supervm.state.keys import balance_key, keccak256, nonce_key, storage_key
from supervm.tooling.abi import selector
from supervm.tooling.compilers import CompileSettings
from supervm_evm_revm_bridge import evm_backend
from supervm_evm_revm_bridge.revm_backend import (
    PRECOMPILES,
    RevmBackend,
    uses_unsupported_opcode,
)

REPO = Path(__file__).resolve().parents[3]
SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = bytes.fromhex("cccccccccccccccccccccccccccccccccccccccc")
OTHER = bytes.fromhex("dddddddddddddddddddddddddddddddddddddddd")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")
BASE_FEE = 10
TIP = 2
ETHER = 10**18
ENV = BlockEnv(
    chain_id=1, number=1, timestamp=1000, coinbase=COINBASE, gas_limit=30_000_000,
    base_fee=BASE_FEE,
)  # fmt: skip
SLOT0 = bytes(32)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as kernel:
        yield kernel


@pytest.fixture
def backend() -> RevmBackend:
    return RevmBackend(VMSettings())


@pytest.fixture
def state(kernel: Kernel) -> WorldState:
    state = WorldState(kernel.open_storage("memory"))
    state.set_balance(SENDER, ETHER)
    state.set_nonce(SENDER, 1)
    return state


def tx(to: bytes | None, data: bytes = b"", *, value: int = 0, gas: int = 200_000, nonce: int = 1):
    return UnsignedTransaction(
        type=2, chain_id=1, nonce=nonce, max_priority_fee_per_gas=TIP,
        max_fee_per_gas=BASE_FEE + TIP + 5, gas=gas, to=to, value=value, data=data,
    )  # fmt: skip


def paid(gas_used: int) -> int:
    """What the sender pays for ``gas_used`` (base fee plus tip)."""
    return gas_used * (BASE_FEE + TIP)


def test_is_a_transaction_engine_with_the_cancun_precompiles(backend: RevmBackend) -> None:
    assert isinstance(backend, TransactionEngine)
    assert backend.precompiles() == {i.to_bytes(20, "big") for i in range(1, 11)} == PRECOMPILES
    assert backend.accepts(b"\x60\x00") and not backend.accepts(b"\0asm\1\0\0\0")
    assert not backend.accepts(b"")


def test_the_evm_vm_option_chooses_the_engine() -> None:
    assert isinstance(evm_backend(VMSettings()), RevmBackend)
    with pytest.raises(ValueError, match="unknown EVM engine 'geth'"):
        evm_backend(VMSettings(options={"evm": "geth"}))


def test_a_call_buys_gas_bumps_the_nonce_stores_and_pays_the_tip(
    backend: RevmBackend, state: WorldState
) -> None:
    state.set_code(CONTRACT, bytes.fromhex("602a60005500"))  # SSTORE(0, 42)
    state.reset_tracking()
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    reads, writes = set(state.reads), set(state.writes)
    # 21000 + 2 pushes (3 each) + a cold SSTORE of a new value (22100).
    assert result.error is None and result.gas_used == 21_000 + 6 + 22_100
    assert state.storage(CONTRACT, SLOT0) == (42).to_bytes(32, "big")
    assert state.nonce(SENDER) == 2
    assert state.balance(SENDER) == ETHER - paid(result.gas_used)
    assert state.balance(COINBASE) == result.gas_used * TIP  # the base fee is burnt
    assert result.effective_gas_price == BASE_FEE + TIP
    # The scheduler sees the slot read and written, but not the coinbase read (only credited).
    assert storage_key(CONTRACT, SLOT0) in reads
    assert storage_key(CONTRACT, SLOT0) in writes
    assert balance_key(COINBASE) in writes and balance_key(COINBASE) not in reads


def test_a_revert_keeps_the_fee_and_nonce_and_nothing_else(
    backend: RevmBackend, state: WorldState
) -> None:
    # SSTORE(0, 1), then REVERT with the 32 bytes 0xff at memory 0.
    state.set_code(CONTRACT, bytes.fromhex("6001600055" + "60ff60005260206000fd"))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    assert result.error is not None and result.error.kind == ErrorKind.REVERT
    assert result.return_data == (0xFF).to_bytes(32, "big")
    assert state.storage(CONTRACT, SLOT0) is None
    assert state.nonce(SENDER) == 2
    assert state.balance(SENDER) == ETHER - paid(result.gas_used)


def test_out_of_gas_spends_all_the_gas(backend: RevmBackend, state: WorldState) -> None:
    state.set_code(CONTRACT, bytes.fromhex("5b600056"))  # JUMPDEST PUSH1 0 JUMP: forever
    result = backend.apply_transaction(tx(CONTRACT, gas=50_000), SENDER, state, ENV)
    assert result.error is not None and result.error.kind == ErrorKind.OUT_OF_GAS
    assert result.gas_used == 50_000
    assert state.balance(SENDER) == ETHER - paid(50_000)


def test_logs_come_back_as_kernel_logs(backend: RevmBackend, state: WorldState) -> None:
    topic = keccak256(b"Ping()")
    # MSTORE(0, 0xff); LOG1(0, 32, topic)
    code = bytes.fromhex("60ff600052" + "7f" + topic.hex() + "60206000a100")
    state.set_code(CONTRACT, code)
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    assert result.error is None
    (log,) = result.logs
    assert log.address == CONTRACT and log.topics == (topic,)
    assert log.data == (0xFF).to_bytes(32, "big")


def test_clearing_a_slot_is_refunded(backend: RevmBackend, state: WorldState) -> None:
    state.set_code(CONTRACT, bytes.fromhex("6000600055"))  # SSTORE(0, 0)
    state.set_storage(CONTRACT, SLOT0, (1).to_bytes(32, "big"))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    # 21000 + 6 + cold SSTORE of a changed slot (2100 + 2900) = 26006, minus the refund
    # 4800, which is under a fifth of it (EIP-3529).
    assert result.gas_used == 26_006 - 4_800
    assert state.storage(CONTRACT, SLOT0) is None


def test_value_moves_to_the_contract(backend: RevmBackend, state: WorldState) -> None:
    state.set_code(CONTRACT, bytes.fromhex("3460005500"))  # SSTORE(0, CALLVALUE)
    result = backend.apply_transaction(tx(CONTRACT, value=1234), SENDER, state, ENV)
    assert result.error is None
    assert state.balance(CONTRACT) == 1234
    assert state.storage(CONTRACT, SLOT0) == (1234).to_bytes(32, "big")
    assert state.balance(SENDER) == ETHER - 1234 - paid(result.gas_used)


# Init code that returns the runtime code 0x602a60005500 (6 bytes) copied from its end.
RUNTIME = bytes.fromhex("602a60005500")
INIT = bytes.fromhex("6006600c60003960066000f3") + RUNTIME


def test_a_create_deploys_code_at_the_sender_nonce_address(
    backend: RevmBackend, state: WorldState
) -> None:
    result = backend.apply_transaction(tx(None, INIT), SENDER, state, ENV)
    expected = create_address(SENDER, 1)
    assert result.error is None and result.contract_address == expected
    assert state.code(expected) == RUNTIME
    assert state.nonce(expected) == 1  # EIP-161: a new contract starts at nonce 1
    assert state.nonce(SENDER) == 2
    assert state.balance(SENDER) == ETHER - paid(result.gas_used)
    assert state.balance(COINBASE) == result.gas_used * TIP  # not the whole price


def test_create2_from_a_contract(backend: RevmBackend, state: WorldState) -> None:
    # CODECOPY(0, 20, size) the INIT after this 20-byte header, CREATE2(0, 0, size, salt 7),
    # SSTORE(0, the new address).
    size = len(INIT)
    header = f"60{size:02x}6014600039" + f"600760{size:02x}60006000f5" + "60005500"
    code = bytes.fromhex(header) + INIT
    assert len(bytes.fromhex(header)) == 20
    state.set_code(CONTRACT, code)
    result = backend.apply_transaction(tx(CONTRACT, gas=300_000), SENDER, state, ENV)
    assert result.error is None
    salt = (7).to_bytes(32, "big")
    child = keccak256(b"\xff" + CONTRACT + salt + keccak256(INIT))[12:]
    assert state.storage(CONTRACT, SLOT0) == bytes(12) + child
    assert state.code(child) == RUNTIME
    assert state.nonce(CONTRACT) == 1  # the creator's nonce moved


def test_selfdestruct_in_the_creating_transaction_deletes_the_account(
    backend: RevmBackend, state: WorldState
) -> None:
    # Init code: SSTORE(0, 1), then SELFDESTRUCT to OTHER (EIP-6780: same transaction).
    init = bytes.fromhex("6001600055" + "73" + OTHER.hex() + "ff")
    result = backend.apply_transaction(tx(None, init, value=5), SENDER, state, ENV)
    assert result.error is None
    created = create_address(SENDER, 1)
    assert state.is_empty(created) and state.storage(created, SLOT0) is None
    assert state.balance(OTHER) == 5


def test_selfdestruct_of_an_older_contract_only_moves_its_balance(
    backend: RevmBackend, state: WorldState
) -> None:
    code = bytes.fromhex("73" + OTHER.hex() + "ff")
    state.set_code(CONTRACT, code)
    state.set_balance(CONTRACT, 77)
    state.set_storage(CONTRACT, SLOT0, (9).to_bytes(32, "big"))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    assert result.error is None
    assert state.code(CONTRACT) == code and state.storage(CONTRACT, SLOT0) is not None
    assert state.balance(CONTRACT) == 0 and state.balance(OTHER) == 77


def test_eip161_a_call_to_an_empty_account_creates_nothing(
    backend: RevmBackend, state: WorldState
) -> None:
    # CALL(gas 0, OTHER, value 0, no data): touches OTHER, which stays empty.
    code = bytes.fromhex("6000600060006000600073" + OTHER.hex() + "6000f100")
    state.set_code(CONTRACT, code)
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    assert result.error is None
    assert all(key[1:21] != OTHER for key in state.writes)


def test_state_written_by_others_between_transactions_is_seen(
    backend: RevmBackend, state: WorldState
) -> None:
    # SSTORE(1, SLOAD(0) + 1): the backend's cache must not hide a write made elsewhere.
    state.set_code(CONTRACT, bytes.fromhex("600054600101600155"))
    backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV)
    assert state.storage(CONTRACT, (1).to_bytes(32, "big")) == (1).to_bytes(32, "big")
    state.set_storage(CONTRACT, SLOT0, (41).to_bytes(32, "big"))  # another engine's write
    backend.apply_transaction(tx(CONTRACT, nonce=2), SENDER, state, ENV)
    assert state.storage(CONTRACT, (1).to_bytes(32, "big")) == (42).to_bytes(32, "big")


def test_simulate_pays_nothing(backend: RevmBackend, state: WorldState) -> None:
    state.set_code(CONTRACT, bytes.fromhex("602a60005500"))
    result = backend.apply_transaction(tx(CONTRACT), SENDER, state, ENV, simulate=True)
    assert result.error is None and result.gas_used == 43_106
    assert state.balance(SENDER) == ETHER and state.balance(COINBASE) == 0


def test_a_message_call_charges_no_intrinsic_gas_and_sees_the_moved_value(
    backend: RevmBackend, state: WorldState
) -> None:
    state.set_code(CONTRACT, bytes.fromhex("3460005500"))  # SSTORE(0, CALLVALUE)
    state.transfer(SENDER, CONTRACT, 99)  # what call_contract does before execute
    context = ExecutionContext(
        block_number=1, timestamp=1000, caller=SENDER, address=CONTRACT, gas_limit=100_000,
        value=99, env=ENV,
    )  # fmt: skip
    result = backend.execute(state.code(CONTRACT), state, context, input=b"")
    assert result.error is None
    assert result.gas_used == 2 + 3 + 22_100  # CALLVALUE, PUSH1, cold SSTORE
    assert state.storage(CONTRACT, SLOT0) == (99).to_bytes(32, "big")
    assert state.balance(CONTRACT) == 99 and state.balance(SENDER) == ETHER - 99
    assert state.nonce(SENDER) == 1


def test_a_precompile_runs_without_code(backend: RevmBackend, state: WorldState) -> None:
    identity = (4).to_bytes(20, "big")
    context = ExecutionContext(caller=SENDER, address=identity, gas_limit=10_000, env=ENV)
    result = backend.execute(b"", state, context, input=b"hello")
    assert result.error is None and result.return_data == b"hello"
    assert result.gas_used == 15 + 3  # identity: 15 + 3 per word
    sha256 = (2).to_bytes(20, "big")
    context = ExecutionContext(caller=SENDER, address=sha256, gas_limit=10_000, env=ENV)
    result = backend.execute(b"", state, context, input=b"abc")
    import hashlib

    assert result.return_data == hashlib.sha256(b"abc").digest()


def test_opcodes_pyrevm_cannot_serve_are_found_outside_push_data() -> None:
    assert uses_unsupported_opcode(bytes.fromhex("4800"))  # BASEFEE
    assert uses_unsupported_opcode(bytes.fromhex("600140"))  # BLOCKHASH(1)
    assert not uses_unsupported_opcode(bytes.fromhex("61484000"))  # PUSH2 0x4840: data


SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Counter {
    event Added(address indexed who, uint256 total);
    uint256 public total;
    mapping(address => uint256) public byWho;
    function add(uint256 amount) external payable {
        require(amount > 0, "zero");
        total += amount;
        byWho[msg.sender] += amount;
        emit Added(msg.sender, total);
    }
}
"""


def test_a_solc_compiled_contract_deploys_and_runs(
    kernel: Kernel, backend: RevmBackend, state: WorldState, tmp_path: Path
) -> None:
    source = tmp_path / "Counter.sol"
    source.write_text(SOURCE)
    entry = kernel.compilers().for_path(source)
    assert entry is not None
    (artifact,) = entry.value.compile([source], CompileSettings(node_modules=REPO / "node_modules"))
    deployed = backend.apply_transaction(
        tx(None, artifact.bytecode, gas=1_000_000), SENDER, state, ENV
    )
    assert deployed.error is None and deployed.contract_address is not None
    token = deployed.contract_address
    add = selector("add(uint256)")
    result = backend.apply_transaction(
        tx(token, add + encode(["uint256"], [5]), nonce=2), SENDER, state, ENV
    )
    assert result.error is None
    (log,) = result.logs
    assert log.topics[1] == bytes(12) + SENDER and decode(["uint256"], log.data) == (5,)
    failed = backend.apply_transaction(
        tx(token, add + encode(["uint256"], [0]), nonce=3), SENDER, state, ENV
    )
    assert failed.error is not None and b"zero" in failed.return_data
    read = backend.apply_transaction(
        tx(token, selector("total()"), nonce=4), SENDER, state, ENV, simulate=True
    )
    assert decode(["uint256"], read.return_data) == (5,)
    assert state.nonce(SENDER) == 4
    assert nonce_key(SENDER) in state.writes
