"""The kernel's node services with the mempool's: a chain opened, transactions sealed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import wasmtime
from supervm import Kernel
from supervm.chain.chain import ChainError
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    Transaction,
    UnsignedTransaction,
    sign_transaction,
)
from supervm.execution.wasm_binary import with_end_marker
from supervm.model import ErrorKind
from supervm.node import CHAIN, CONFIG, EVENTS, POOL, CallRequest, NewBlock, NodeConfig
from supervm.node.access import CallFailed
from supervm.node.chain_service import ChainService
from supervm.node.pool import PoolRejected
from supervm.node.producer import BlockProducer
from supervm.plugins.registry import ServiceRegistry
from supervm.services.host import ServiceHost
from supervm.services.service import Stash
from supervm.state.addresses import create_address
from supervm_mempool.service import PoolService

ALICE, BOB, CAROL = dev_accounts(3)

# deploy: nothing. call: input "no" reverts with "no"; anything else is stored under "v" and
# returned, after burning gas in a loop as long as the input's first byte says.
CONTRACT = """
(module
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "v")
  (func (export "call")
    (local $i i32)
    (call $rin (i32.const 64))
    (if (i32.eq (i32.load16_u (i32.const 64)) (i32.const 0x6f6e))
      (then (call $revert (i32.const 64) (i32.const 2))))
    (local.set $i (i32.mul (i32.load8_u (i32.const 64)) (i32.const 100)))
    (block $done (loop $spin
      (br_if $done (i32.eqz (local.get $i)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br $spin)))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 64) (call $ilen)))
    (call $ret (i32.const 64) (call $ilen))))
"""


def signed(
    account_index: int,
    nonce: int,
    *,
    to: bytes | None,
    data: bytes = b"",
    value: int = 0,
    gas: int = 1_000_000,
    tip: int = 10**9,
) -> Transaction:
    account = dev_accounts(10)[account_index]
    return sign_transaction(
        UnsignedTransaction(
            type=DYNAMIC_FEE_TX_TYPE,
            chain_id=31337,
            nonce=nonce,
            max_priority_fee_per_gas=tip,
            max_fee_per_gas=100 * 10**9,
            gas=gas,
            to=to,
            value=value,
            data=data,
        ),
        account.private_key,
    )


def registry() -> ServiceRegistry:
    services = ServiceRegistry()
    services.add_service("chain", ChainService())
    services.add_service("producer", BlockProducer(), after=["chain"])
    services.add_service("txpool", PoolService(), after=["chain"])
    return services


class Node:
    def __init__(self, host: ServiceHost, stash: Stash) -> None:
        self.host = host
        self.stash = stash
        self.blocks: list[NewBlock] = []
        stash[EVENTS].on_block(self.blocks.append)

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("timed out")
            await asyncio.sleep(0.01)

    async def include(self, *txs: Transaction) -> None:
        for tx in txs:
            self.stash[POOL].submit(tx)
        node = self.stash[CHAIN]
        await self.until(lambda: all(node.store.transaction_location(t.hash) for t in txs))


async def start(kernel: Kernel, config: NodeConfig) -> Node:
    stash = Stash()
    stash[CONFIG] = config
    host = ServiceHost(kernel, registry(), stash=stash)
    await host.start()
    return Node(host, stash)


WithNode = Callable[[Callable[["Node"], Awaitable[None]]], None]


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    return Kernel.from_plugins()


@pytest.fixture
def with_node(kernel: Kernel, tmp_path: Path) -> WithNode:
    """Run a test body against a started dev node, in an event loop of its own."""

    def run(body: Callable[[Node], Awaitable[None]]) -> None:
        async def main() -> None:
            running = await start(kernel, NodeConfig(dev=True, data_dir=tmp_path))
            try:
                await body(running)
            finally:
                await running.host.stop()

        asyncio.run(main())

    return run


def deploy_contract(nonce: int = 0) -> tuple[Transaction, bytes]:
    code = with_end_marker(bytes(wasmtime.wat2wasm(CONTRACT)))
    return signed(0, nonce, to=None, data=code), create_address(ALICE.address, nonce)


def test_a_submitted_transfer_is_sealed_into_a_block(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        tx = signed(0, 0, to=BOB.address, value=5 * 10**18, gas=21_000)
        before = node.stash[CHAIN].state().balance(BOB.address)
        await node.include(tx)
        chain = node.stash[CHAIN]
        block_hash, index = chain.store.transaction_location(tx.hash) or (b"", -1)
        assert index == 0
        assert chain.head.hash == block_hash and chain.head.number == 1
        assert chain.state().balance(BOB.address) == before + 5 * 10**18
        receipts = chain.store.receipts(block_hash)
        assert receipts is not None and receipts[0].status == 1
        assert node.stash[POOL].stats() == (0, 0)
        assert [b.block.header.number for b in node.blocks] == [1]
        assert node.blocks[0].block.transactions[0].hash == tx.hash

    with_node(body)


def test_transactions_arriving_while_sealing_go_into_later_blocks(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        txs = [signed(i % 3, i // 3, to=CAROL.address, value=1, gas=21_000) for i in range(30)]
        await node.include(*txs)
        included = sum(len(b.block.transactions) for b in node.blocks)
        assert included == 30
        assert len(node.blocks) < 30  # blocks grow under load instead of multiplying

    with_node(body)


def test_pool_refusals_keep_geths_words(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        pool = node.stash[POOL]
        await node.include(signed(0, 0, to=BOB.address, value=1, gas=21_000))
        with pytest.raises(PoolRejected, match=r"^nonce too low"):
            pool.submit(signed(0, 0, to=BOB.address, value=2, gas=21_000))
        with pytest.raises(PoolRejected, match=r"^intrinsic gas too low"):
            pool.submit(signed(0, 1, to=BOB.address, value=2, gas=20_000))
        with pytest.raises(PoolRejected, match=r"^insufficient funds for gas \* price \+ value"):
            pool.submit(signed(0, 1, to=BOB.address, value=10**30, gas=21_000))

    with_node(body)


def test_evm_bytecode_is_refused_until_an_evm_backend_is_enabled(tmp_path: Path) -> None:
    evm_init_code = bytes.fromhex("6080604052348015600f57600080fd5b50")

    async def main(kernel: Kernel, data_dir: Path, accepted: bool) -> None:
        node = await start(kernel, NodeConfig(dev=True, data_dir=data_dir))
        try:
            pool = node.stash[POOL]
            if accepted:
                pool.submit(signed(0, 0, to=None, data=evm_init_code))
                assert pool.stats() == (1, 0)
            else:
                with pytest.raises(PoolRejected, match="contract code cannot run on this node"):
                    pool.submit(signed(0, 0, to=None, data=evm_init_code))
                assert pool.stats() == (0, 0)
        finally:
            await node.host.stop()

    with Kernel.from_plugins(["no:evm_revm_bridge"], env={}) as without_evm:
        asyncio.run(main(without_evm, tmp_path / "without", accepted=False))
    with Kernel.from_plugins(env={}) as with_evm:
        asyncio.run(main(with_evm, tmp_path / "with", accepted=True))


def test_pending_nonce_counts_the_pools_run(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        pool = node.stash[POOL]
        assert pool.pending_nonce(ALICE.address) == 0
        pool.submit(signed(0, 1, to=BOB.address, value=1, gas=21_000))  # queued behind a gap
        assert pool.pending_nonce(ALICE.address) == 0
        await node.include(signed(0, 0, to=BOB.address, value=1, gas=21_000))
        await node.until(lambda: node.stash[CHAIN].state().nonce(ALICE.address) == 2)
        assert pool.pending_nonce(ALICE.address) == 2

    with_node(body)


def test_calls_estimates_and_reverts(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        deploy, address = deploy_contract()
        await node.include(deploy)
        chain = node.stash[CHAIN]
        result = chain.call(CallRequest(sender=BOB.address, to=address, data=b"\x05hello"))
        assert result.error is None and result.return_data == b"\x05hello"
        assert chain.state().storage(address, b"v") is None  # a call never writes
        reverted = chain.call(CallRequest(to=address, data=b"no"))
        assert reverted.error is not None and reverted.error.kind is ErrorKind.REVERT
        assert reverted.return_data == b"no"
        with pytest.raises(CallFailed) as failed:
            chain.estimate_gas(CallRequest(to=address, data=b"no"))
        assert failed.value.result.return_data == b"no"

        request = CallRequest(sender=ALICE.address, to=address, data=b"\x40spin")
        gas = chain.estimate_gas(request)
        assert gas > 21_000
        # The estimate is the least gas that works: one less fails.
        assert (
            chain.call(
                CallRequest(sender=ALICE.address, to=address, data=b"\x40spin", gas=gas)
            ).error
            is None
        )
        short = chain.call(
            CallRequest(sender=ALICE.address, to=address, data=b"\x40spin", gas=gas - 1)
        )
        assert short.error is not None
        tx = signed(0, 1, to=address, data=b"\x40spin", gas=gas)
        await node.include(tx)
        location = chain.store.transaction_location(tx.hash)
        assert location is not None
        receipts = chain.store.receipts(location[0])
        assert receipts is not None and receipts[location[1]].status == 1

    with_node(body)


def test_a_transfer_estimate_is_21000(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        chain = node.stash[CHAIN]
        assert (
            chain.estimate_gas(CallRequest(sender=ALICE.address, to=BOB.address, value=1)) == 21_000
        )
        with pytest.raises(CallFailed, match="insufficient funds for transfer"):
            chain.estimate_gas(CallRequest(sender=bytes(19) + b"\x01", to=BOB.address, value=1))

    with_node(body)


def test_earlier_states_are_read_through_their_tries(with_node: WithNode) -> None:
    async def body(node: Node) -> None:
        deploy, address = deploy_contract()
        await node.include(deploy)
        await node.include(signed(0, 1, to=address, data=b"\x01first", gas=200_000))
        chain = node.stash[CHAIN]
        middle = chain.head
        await node.include(signed(0, 2, to=address, data=b"\x01second", gas=200_000))
        await node.include(signed(0, 3, to=BOB.address, value=10**18, gas=21_000))
        then, now = chain.state(middle), chain.state()
        assert then.storage(address, b"v") == b"\x01first"
        assert now.storage(address, b"v") == b"\x01second"
        assert then.nonce(ALICE.address) == 2 and now.nonce(ALICE.address) == 4
        assert now.balance(BOB.address) - then.balance(BOB.address) == 10**18
        assert then.code(address) == now.code(address) != b""
        genesis = chain.store.header_by_number(0)
        assert genesis is not None
        assert chain.state(genesis).code(address) == b""
        assert chain.state(genesis).nonce(ALICE.address) == 0
        # A call at an earlier block sees that block's state.
        echo = chain.call(CallRequest(to=address, data=b"\x00x"), middle)
        assert echo.error is None and echo.return_data == b"\x00x"

    with_node(body)


def test_a_restarted_node_continues_from_its_stored_chain(kernel: Kernel, tmp_path: Path) -> None:
    async def body() -> None:
        first = await start(kernel, NodeConfig(dev=True, data_dir=tmp_path))
        await first.include(signed(0, 0, to=BOB.address, value=7, gas=21_000))
        head = first.stash[CHAIN].head
        balance = first.stash[CHAIN].state().balance(BOB.address)
        await first.host.stop()
        second = await start(kernel, NodeConfig(dev=True, data_dir=tmp_path))
        try:
            chain = second.stash[CHAIN]
            assert chain.head == head
            assert chain.state().balance(BOB.address) == balance
            await second.include(signed(0, 1, to=BOB.address, value=7, gas=21_000))
            assert chain.head.number == head.number + 1
        finally:
            await second.host.stop()

    asyncio.run(body())


def test_dev_without_a_data_dir_keeps_its_chain_in_a_temporary_directory(
    kernel: Kernel,
) -> None:
    async def body() -> None:
        running = await start(kernel, NodeConfig(dev=True))
        path = Path(running.stash[CHAIN].chain.storage.path)  # type: ignore[attr-defined]
        assert path.exists()
        await running.host.stop()
        assert not path.exists()

    asyncio.run(body())


def test_a_node_needs_a_genesis_for_a_new_chain(kernel: Kernel, tmp_path: Path) -> None:
    async def body() -> None:
        stash = Stash()
        stash[CONFIG] = NodeConfig(data_dir=tmp_path)
        host = ServiceHost(kernel, registry(), stash=stash)
        with pytest.raises(Exception, match="--genesis FILE") as failed:
            await host.start()
        assert isinstance(failed.value.__cause__, ChainError)

    asyncio.run(body())


def test_a_block_time_seals_empty_blocks_on_schedule(kernel: Kernel, tmp_path: Path) -> None:
    async def body() -> None:
        running = await start(kernel, NodeConfig(dev=True, data_dir=tmp_path, block_time=0.05))
        try:
            await running.until(lambda: len(running.blocks) >= 3)
            assert all(not b.block.transactions for b in running.blocks)
            numbers = [b.block.header.number for b in running.blocks]
            assert numbers == list(range(1, len(numbers) + 1))
        finally:
            await running.host.stop()

    asyncio.run(body())
