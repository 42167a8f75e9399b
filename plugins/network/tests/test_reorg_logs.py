"""A reorg that arrives from the network reaches JSON-RPC's log filters and subscriptions: a
peer gossips a branch of two blocks with logs, then a heavier branch of one; the node's importer
publishes the new head with the blocks it removed, and clients of ``eth_newFilter`` /
``eth_getFilterChanges`` and ``eth_subscribe("logs")`` get the removed logs (``"removed":
true``) before the new branch's, while ``newHeads`` gets the new branch's head."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from supervm import Kernel
from supervm.chain.blocks import BlockHeader, encode_block
from supervm.chain.chain import BuiltBlock, Chain
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import parse_genesis
from supervm.chain.transactions import UnsignedTransaction, sign_transaction
from supervm.node import CHAIN, ENDPOINTS, NodeConfig
from supervm.testing.weighted_consensus import WeightedConsensusPlugin
from supervm_network.libp2p_transport import Libp2pTransport
from supervm_network.transport import BLOCKS_TOPIC, TX_TOPIC, PeerRecord
from supervm_rpc.testing import NodeThread, hx, log_summary, logger_genesis
from supervm_storage_memory import MemoryStorage

pytestmark = pytest.mark.slow

SENDER = dev_accounts(1)[0]
WATCHED = bytes.fromhex("c1" * 20)
OTHER = bytes.fromhex("c2" * 20)


def genesis_json() -> bytes:
    return logger_genesis(SENDER.address, (WATCHED, OTHER), "heaviest")


def build(
    chain: Chain, parent: BlockHeader, weight: int, calls: list[tuple[int, bytes, bytes]]
) -> BuiltBlock:
    txs = [
        sign_transaction(
            UnsignedTransaction(
                type=2,
                chain_id=chain.chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=10**9,
                max_fee_per_gas=10 * 10**9,
                gas=200_000,
                to=to,
                data=data,
            ),
            SENDER.private_key,
        )
        for nonce, to, data in calls
    ]
    built = chain.build_block(
        txs, timestamp=parent.timestamp + 1, extra_data=bytes([weight]), parent=parent
    )
    assert not built.executed.rejected
    return built


def message(method: str, call_id: int, *params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": call_id, "method": method, "params": list(params)})


def test_a_reorg_from_the_network_reaches_log_filters_and_subscriptions(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(genesis_json())
    kernel = Kernel.from_plugins(env={}, extra=[("heaviest", WeightedConsensusPlugin("heaviest"))])
    raw = genesis.read_bytes()
    builder = Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(raw)), raw)
    root = builder.head
    a1 = build(builder, root, 1, [(0, WATCHED, b"a1"), (1, OTHER, b"a1-other")])
    a2 = build(builder, a1.block.header, 1, [(2, WATCHED, b"a2")])
    b1 = build(builder, root, 5, [(0, WATCHED, b"b1")])
    assert builder.head == b1.block.header  # the heavier branch is the head

    config = NodeConfig(
        data_dir=tmp_path / "node", genesis=genesis, rpc_port=0, explorer=False, p2p_port=0
    )
    node = NodeThread(kernel, config)

    def head() -> BlockHeader:
        header: BlockHeader = node.stash[CHAIN].head
        return header

    async def wait_head(block: BuiltBlock) -> None:
        deadline = time.monotonic() + 20
        while head().hash != block.block.hash:
            assert time.monotonic() < deadline, f"the node's head is {head().number}"
            await asyncio.sleep(0.02)

    async def main() -> None:
        async def nothing(protocol: str, peer: str, payload: bytes) -> bytes | None:
            return None

        def ignore(_: PeerRecord | str) -> None:
            pass

        peer = Libp2pTransport(
            seed=os.urandom(32), host="127.0.0.1", port=0, chain_id=31337,
            topics=[TX_TOPIC, BLOCKS_TOPIC], protocols=[], inbound=nothing,
            connected=ignore, disconnected=ignore,
        )  # fmt: skip
        await peer.start()
        async with aiohttp.ClientSession() as session, session.ws_connect(node.ws_url) as ws:
            await ws.send_str(message("eth_subscribe", 1, "logs", {"address": hx(WATCHED)}))
            logs = json.loads((await ws.receive(10)).data)["result"]
            await ws.send_str(message("eth_subscribe", 2, "newHeads"))
            heads = json.loads((await ws.receive(10)).data)["result"]
            polled = await asyncio.to_thread(
                node.call, "eth_newFilter", {"address": hx(WATCHED), "fromBlock": "earliest"}
            )
            try:
                await peer.connect(node.stash[ENDPOINTS]["p2p"])
                await asyncio.sleep(0.3)  # the node's subscriptions arrive
                await peer.publish(BLOCKS_TOPIC, encode_block(a1.block))
                await peer.publish(BLOCKS_TOPIC, encode_block(a2.block))
                await wait_head(a2)
                first = await asyncio.to_thread(node.call, "eth_getFilterChanges", polled)
                await peer.publish(BLOCKS_TOPIC, encode_block(b1.block))
                await wait_head(b1)
                second = await asyncio.to_thread(node.call, "eth_getFilterChanges", polled)
            finally:
                await peer.stop()
            got: dict[str, list[Any]] = {logs: [], heads: []}
            while len(got[logs]) < 5 or len(got[heads]) < 3:
                frame = json.loads((await ws.receive(10)).data)["params"]
                got[frame["subscription"]].append(frame["result"])
        assert log_summary(first) == [("a1", 1, False), ("a2", 2, False)]
        assert log_summary(second) == [("a1", 1, True), ("a2", 2, True), ("b1", 1, False)]
        assert log_summary(got[logs]) == [
            ("a1", 1, False),
            ("a2", 2, False),
            ("a1", 1, True),
            ("a2", 2, True),
            ("b1", 1, False),
        ]
        assert got[logs][2] == {**got[logs][0], "removed": True}
        assert [h["hash"] for h in got[heads]] == [
            hx(a1.block.hash),
            hx(a2.block.hash),
            hx(b1.block.hash),
        ]
        # What the chain serves now is the new branch's alone.
        now = await asyncio.to_thread(
            node.call, "eth_getLogs", {"address": hx(WATCHED), "fromBlock": "0x0"}
        )
        assert log_summary(now) == [("b1", 1, False)]
        # The pool took back what the new branch does not hold (a1's second transaction and
        # a2's); a1's first is refused, as b1 used its nonce.
        content = await asyncio.to_thread(node.call, "txpool_content")
        pending = content["pending"][SENDER.checksum_address]
        assert sorted(pending) == ["1", "2"]
        assert pending["1"]["hash"] == hx(a1.block.transactions[1].hash)
        assert pending["2"]["hash"] == hx(a2.block.transactions[0].hash)
        assert content["queued"] == {}

    try:
        asyncio.run(main())
    finally:
        node.stop()
        kernel.close()
