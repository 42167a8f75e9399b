"""Nodes on loopback: bootnodes and peer exchange, gossip of transactions and blocks, sync of a
late joiner and of a node that was offline, and peers that send garbage and invalid blocks."""

from __future__ import annotations

import os
import threading
from typing import Any

import attrs
import pytest
from supervm.chain.blocks import Block, encode_block
from supervm.chain.dev_accounts import dev_account
from supervm.chain.pipeline import next_base_fee
from supervm.node import CHAIN
from supervm.node.peers import NETWORK_STATUS
from supervm_network.libp2p_transport import Libp2pTransport
from supervm_network.scoring import Offence
from supervm_network.sync import Progress
from supervm_network.transport import BLOCKS_TOPIC, SYNC_PROTOCOL, TX_TOPIC, PeerRecord

pytestmark = pytest.mark.slow


def count(value: str) -> int:
    return int(value, 16)


def metric(node: Any, name: str, **labels: str) -> float:
    return float(node.thread.host.metrics.value(name, labels or None))


def test_three_nodes_gossip_and_a_late_joiner_syncs(loopback: Any) -> None:
    wait_for, transfer = loopback.wait_for, loopback.transfer
    validator = loopback.start("validator", validator=True)
    follower = loopback.start("follower", bootnodes=(validator.p2p,))
    # Knows only the follower: finds the validator by peer exchange.
    edge = loopback.start("edge", bootnodes=(follower.p2p,))
    wait_for("the edge's first peer", lambda: count(edge.call("net_peerCount")) >= 1)

    # A transaction sent to the edge reaches the validator, which seals it; the block reaches
    # every node, and all agree on the head and its state root.
    tx_hash = edge.call("eth_sendRawTransaction", transfer(dev_account(1), 0))
    wait_for("the validator's block", lambda: validator.head()[0] >= 1)
    assert validator.call("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"
    for node in (follower, edge):
        wait_for("the same head", lambda node=node: node.head() == validator.head())
    assert edge.call("eth_getTransactionReceipt", tx_hash)["blockHash"] == "0x" + (
        validator.head()[1].hex()
    )
    wait_for("peer exchange", lambda: count(edge.call("net_peerCount")) == 2, 15)
    peers = {p["id"] for p in edge.call("admin_peers")}
    assert validator.network.transport.local_id in peers
    assert edge.call("eth_syncing") is False
    assert metric(validator, "p2p_messages_in_total", protocol=TX_TOPIC) >= 1
    assert metric(edge, "p2p_messages_in_total", protocol=BLOCKS_TOPIC) >= 1
    info = edge.call("admin_nodeInfo")
    assert info["multiaddr"] == edge.p2p and info["protocols"]["supervm"]["network"] == 31337

    # Blocks keep coming while a new node joins from genesis.
    sender = dev_account(2)
    stop = threading.Event()
    sent: list[str] = []

    def keep_sending() -> None:
        nonce = 0
        while not stop.is_set() and nonce < 60:
            sent.append(follower.call("eth_sendRawTransaction", transfer(sender, nonce)))
            nonce += 1

    for nonce in range(1, 25):  # some history first
        validator.call("eth_sendRawTransaction", transfer(dev_account(1), nonce))
    wait_for("history", lambda: validator.head()[0] >= 10)
    producer = threading.Thread(target=keep_sending)
    producer.start()
    try:
        late = loopback.start("late", bootnodes=(edge.p2p,))
        wait_for("the late node's catch-up", lambda: late.head()[0] >= validator.head()[0] - 1, 30)
    finally:
        stop.set()
        producer.join()
    wait_for(
        "the last transfers sealed",
        lambda: all(validator.call("eth_getTransactionReceipt", h) for h in sent[-1:]),
    )
    for node in (follower, edge, late):
        wait_for("one head everywhere", lambda node=node: node.head() == validator.head(), 20)
    assert metric(late, "p2p_blocks_imported_total") >= validator.head()[0] - 1
    assert late.call("eth_getTransactionReceipt", sent[-1])["status"] == "0x1"
    assert late.call("eth_syncing") is False

    # A node that was offline catches up on restart, with the same peer id.
    peer_id = follower.network.transport.local_id
    loopback.stop(follower)
    for nonce in range(25, 30):
        validator.call("eth_sendRawTransaction", transfer(dev_account(1), nonce))
    wait_for(
        "blocks while it is away",
        lambda: (
            validator.head()[0] >= late.head()[0]
            and (
                count(
                    validator.call(
                        "eth_getTransactionCount", "0x" + dev_account(1).address.hex(), "latest"
                    )
                )
                == 30
            )
        ),
    )
    back = loopback.start("follower", bootnodes=(validator.p2p,))
    assert back.network.transport.local_id == peer_id
    wait_for("the returning node's catch-up", lambda: back.head() == validator.head(), 20)


def _attacker(chain_id: int, inbound: Any = None) -> Libp2pTransport:
    async def nothing(protocol: str, peer: str, payload: bytes) -> bytes | None:
        return None

    def ignore(_: PeerRecord | str) -> None:
        pass

    return Libp2pTransport(
        seed=os.urandom(32),
        host="127.0.0.1",
        port=0,
        chain_id=chain_id,
        topics=[TX_TOPIC, BLOCKS_TOPIC],
        protocols=[],
        inbound=inbound or nothing,
        connected=ignore,
        disconnected=ignore,
    )


def test_a_peer_sending_garbage_and_bad_blocks_is_banned(loopback: Any) -> None:
    import asyncio

    wait_for, transfer = loopback.wait_for, loopback.transfer
    validator = loopback.start("validator", validator=True)
    follower = loopback.start("follower", bootnodes=(validator.p2p,))
    validator.call("eth_sendRawTransaction", transfer(dev_account(1), 0))
    wait_for("a block everywhere", lambda: follower.head()[0] == 1 == validator.head()[0])
    chain = validator.thread.stash[CHAIN].chain
    head_block = chain.store.block_by_number(1)
    assert head_block is not None

    # A child of the head whose seal is the head's own: it recovers no authority.
    forged = attrs.evolve(
        head_block.header,
        parent_hash=head_block.hash,
        number=2,
        timestamp=head_block.header.timestamp + 1,
        base_fee_per_gas=next_base_fee(head_block.header),
    )
    bad_seal = encode_block(Block(forged, (), withdrawals=()))

    # A child of the follower's head sealed by the authority, whose state root is wrong.
    engine = follower.thread.stash[CHAIN].chain.consensus
    draft = engine.prepare(
        attrs.evolve(forged, extra_data=b""), head_block.header, chain=chain.store
    )
    draft = attrs.evolve(draft, state_root=b"\x11" * 32)
    invalid = encode_block(
        Block(engine.seal(draft, dev_account(0).private_key), (), withdrawals=())
    )

    async def attack() -> tuple[str, bytes]:
        attacker = _attacker(31337)
        await attacker.start()
        try:
            await attacker.connect(follower.p2p)
            await attacker.connect(validator.p2p)
            await asyncio.sleep(0.3)  # the peers' subscriptions arrive
            await attacker.publish(BLOCKS_TOPIC, invalid)
            await asyncio.sleep(1.0)
            await attacker.publish(TX_TOPIC, b"\x01 not a transaction batch")
            await attacker.publish(BLOCKS_TOPIC, bad_seal)
            # Garbage on the sync protocol: the validator answers nothing.
            try:
                answer = await attacker.request(
                    validator.network.transport.local_id,
                    SYNC_PROTOCOL,
                    b"\xff\xff garbage",
                    3,
                )
            except Exception:
                answer = b""
            await asyncio.sleep(1.0)
            return attacker.local_id, answer
        finally:
            await attacker.stop()

    attacker_id, answer = asyncio.run(attack())
    assert answer == b""
    scores = validator.network.scores
    wait_for("the validator's ban", lambda: scores.is_banned(attacker_id))
    assert scores.offences(attacker_id) >= 2
    assert attacker_id not in validator.network.peers
    assert metric(validator, "p2p_invalid_messages_total", offence="bad_seal") == 1
    assert metric(validator, "p2p_invalid_messages_total", offence="garbage") >= 1
    # The follower relayed the authority-sealed invalid block, as an honest node does: it is
    # charged for it, but not banned, and nobody took the block.
    follower_id = follower.network.transport.local_id
    assert follower.network.scores.offences(attacker_id) >= 1
    assert not scores.is_banned(follower_id)
    assert validator.head()[0] == follower.head()[0] == 1
    # Both carry on.
    validator.call("eth_sendRawTransaction", transfer(dev_account(1), 1))
    wait_for(
        "the next block everywhere",
        lambda: follower.head() == validator.head() and (validator.head()[0] == 2),
    )
    assert Offence.BAD_SEAL.penalty >= 100


def test_eth_syncing_reports_progress_while_a_sync_runs(loopback: Any) -> None:
    node = loopback.start("solo", validator=True)
    assert node.call("eth_syncing") is False
    # What the sync records when it starts (its own test above shows it runs; here its
    # progress is set by hand, to see what a client is told mid-sync).
    network = node.thread.host.stash[NETWORK_STATUS]
    syncer = network.syncer
    syncer.progress = Progress(syncing=True, starting_block=0, highest_block=50)
    assert node.call("eth_syncing") == {
        "startingBlock": "0x0",
        "currentBlock": "0x0",
        "highestBlock": "0x32",
    }
    syncer.progress = Progress()
    assert node.call("eth_syncing") is False
    assert node.call("net_peerCount") == "0x0"


def test_a_node_without_p2p_port_runs_no_network(tmp_path: Any) -> None:
    from supervm import Kernel
    from supervm.node import NodeConfig
    from supervm_rpc.testing import NodeThread

    kernel = Kernel.from_plugins(env={})
    node = NodeThread(kernel, NodeConfig(dev=True, rpc_port=0, explorer=False))
    try:
        assert node.call("admin_peers") == []
        assert node.call("net_peerCount") == "0x0"
        with pytest.raises(AssertionError, match="the network is not running"):
            node.call("admin_nodeInfo")
        with pytest.raises(AssertionError, match="the network is not running"):
            node.call("admin_addPeer", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWabc")
    finally:
        node.stop()
        kernel.close()
