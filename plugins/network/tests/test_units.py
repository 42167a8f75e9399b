"""Unit tests: message encodings, scores and bans, duplicate memory, names, the node key, and
the bridge between the asyncio and trio loops."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest
import rlp
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.chain.blocks import BlockHeader, encode_header
from supervm.chain.dev_accounts import DevAccount, dev_account
from supervm.chain.transactions import UnsignedTransaction, encode_transaction, sign_transaction
from supervm_network import codec
from supervm_network.bridge import TrioBridge
from supervm_network.codec import Kind, MessageError, RemoteError, Status
from supervm_network.network import peer_id_of
from supervm_network.nodekey import NodeKeyError, key_path, load_or_create
from supervm_network.scoring import BAN_THRESHOLD, Offence, PeerScores, SeenSet
from supervm_network.transport import wire_id


def transfer(sender: DevAccount, nonce: int, *, chain_id: int = 31337) -> str:
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=1,
        max_fee_per_gas=10**10,
        gas=21_000,
        to=bytes(20),
        value=1,
    )
    return "0x" + encode_transaction(sign_transaction(unsigned, sender.private_key)).hex()


# -- codec ----------------------------------------------------------------------------------------


def test_transactions_round_trip() -> None:
    raw = [bytes.fromhex(transfer(dev_account(1), n)[2:]) for n in range(3)]
    txs = codec.decode_transactions(codec.encode_transactions(raw), chain_id=31337)
    assert [tx.nonce for tx in txs] == [0, 1, 2]
    assert {tx.sender for tx in txs} == {dev_account(1).address}


def test_transactions_of_another_chain_are_garbage() -> None:
    raw = bytes.fromhex(transfer(dev_account(1), 0, chain_id=5)[2:])
    with pytest.raises(MessageError, match="transaction 0"):
        codec.decode_transactions(codec.encode_transactions([raw]), chain_id=31337)


def test_transaction_batches_are_bounded() -> None:
    with pytest.raises(MessageError, match="1 to"):
        codec.decode_transactions(rlp.encode([]), chain_id=1)
    with pytest.raises(ValueError):
        codec.encode_transactions([b"x"] * (codec.MAX_TX_BATCH + 1))


def test_requests_round_trip() -> None:
    for kind in (Kind.GET_HEADERS, Kind.GET_BLOCKS):
        request = codec.decode_request(codec.encode_request(kind, 5, 10))
        assert (request.kind, request.start, request.count) == (kind, 5, 10)
    assert codec.decode_request(codec.encode_request(Kind.STATUS)).kind is Kind.STATUS


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (rlp.encode([1, 0, codec.MAX_RANGE + 1]), "count"),
        (rlp.encode([1, 0, 0]), "count"),
        (rlp.encode([7]), "unknown kind"),
        (rlp.encode([255]), "is an answer"),
        (rlp.encode([1, 0]), "expected 3 items"),
        (rlp.encode(b"hello"), "expected a list"),
        (rlp.encode([b"\x00\x01"]), "leading zero"),
        (b"\xc5\x01", "invalid RLP"),
    ],
)
def test_bad_requests_are_named(raw: bytes, match: str) -> None:
    with pytest.raises(MessageError, match=match):
        codec.decode_request(raw)


def test_status_and_errors() -> None:
    status = Status(31337, b"\x01" * 32, 7, b"\x02" * 32)
    assert codec.decode_status(codec.encode_status(status)) == status
    with pytest.raises(RemoteError, match="busy"):
        codec.decode_status(codec.encode_error("busy"))
    with pytest.raises(MessageError, match="GET_HEADERS answer"):
        codec.decode_status(codec.encode_headers([]))


def test_headers_answer_is_bounded() -> None:
    header = BlockHeader(
        parent_hash=bytes(32),
        coinbase=bytes(20),
        state_root=bytes(32),
        number=1,
        gas_limit=30_000_000,
        timestamp=1,
    )
    raw = codec.encode_headers([encode_header(header)] * 3)
    assert codec.decode_headers(raw)[0].hash == header.hash
    with pytest.raises(MessageError, match="3 headers, 2 asked"):
        codec.decode_headers(raw, limit=2)


def test_peers_answer() -> None:
    addrs = ["/ip4/127.0.0.1/tcp/1/p2p/abc"]
    assert codec.decode_peers(codec.encode_peers(addrs)) == addrs
    with pytest.raises(MessageError, match="not ASCII"):
        codec.decode_peers(rlp.encode([3, ["é".encode()]]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_anything_but_a_message_error(raw: bytes) -> None:
    decoders = (
        codec.decode_request,
        codec.decode_status,
        codec.decode_headers,
        codec.decode_blocks,
        codec.decode_peers,
        lambda r: codec.decode_transactions(r, chain_id=1),
        lambda r: codec.decode_gossip_block(r, chain_id=1),
    )
    for decode in decoders:
        with contextlib.suppress(MessageError, RemoteError):
            decode(raw)


# -- scores, duplicates ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_scores_ban_at_the_threshold_and_recover() -> None:
    clock = Clock()
    scores = PeerScores(ban_seconds=60, recovery_per_second=1.0, clock=clock)
    assert not scores.penalise("a", Offence.GARBAGE)
    assert scores.score("a") == -50
    clock.now = 20
    assert scores.score("a") == -30  # recovered 20 points
    assert not scores.penalise("a", Offence.GARBAGE)
    assert scores.score("a") == -80
    assert scores.penalise("a", Offence.TIMEOUT) is False  # -90
    assert scores.penalise("a", Offence.TIMEOUT)  # -100: banned
    assert scores.score("a") <= BAN_THRESHOLD
    assert scores.banned() == ["a"] and scores.offences("a") == 4
    clock.now = 81
    assert not scores.is_banned("a") and scores.score("a") == 0


def test_one_bad_block_bans() -> None:
    scores = PeerScores(clock=Clock())
    assert scores.penalise("b", Offence.INVALID_BLOCK)
    assert scores.penalise("c", Offence.BAD_SEAL)
    assert not scores.is_banned("d")


def test_seen_set_forgets_the_oldest() -> None:
    seen = SeenSet(2)
    assert seen.add(b"a") and seen.add(b"b")
    assert not seen.add(b"a")  # refreshes a
    assert seen.add(b"c")  # evicts b
    assert b"a" in seen and b"c" in seen and b"b" not in seen and len(seen) == 2
    with pytest.raises(ValueError):
        SeenSet(0)


# -- names, keys ----------------------------------------------------------------------------------


def test_wire_ids_carry_the_chain_id() -> None:
    assert wire_id("/supervm/tx/1", 31337) == "/supervm/31337/tx/1"
    assert wire_id("/other/x/1", 5) == "/supervm/5/other/x/1"


def test_peer_ids_of_addresses() -> None:
    assert peer_id_of("/ip4/127.0.0.1/tcp/30303/p2p/12D3KooWabc") == "12D3KooWabc"
    for bad in ("/ip4/127.0.0.1/tcp/30303", "/p2p/", "12D3KooWabc", "/ip4/1.2.3.4/p2p/a/b"):
        with pytest.raises(ValueError, match="not a peer address"):
            peer_id_of(bad)


def test_node_key_is_kept(tmp_path: Path) -> None:
    seed = load_or_create(tmp_path)
    assert load_or_create(tmp_path) == seed and len(seed) == 32
    assert key_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert load_or_create(None) != load_or_create(None)
    key_path(tmp_path).write_text("not a key")
    with pytest.raises(NodeKeyError, match="does not hold a node key"):
        load_or_create(tmp_path)


# -- the bridge -----------------------------------------------------------------------------------


def test_bridge_calls_both_ways_and_carries_errors() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bridge = TrioBridge(loop)
        ready = threading.Event()
        stop = threading.Event()

        async def trio_main() -> None:
            async with trio.open_nursery() as nursery:
                bridge.attach(nursery)
                ready.set()
                while not stop.is_set():
                    await trio.sleep(0.01)
                bridge.detach()
                nursery.cancel_scope.cancel()

        thread = threading.Thread(target=trio.run, args=(trio_main,))
        thread.start()
        await asyncio.to_thread(ready.wait)

        async def double(x: int) -> int:
            await trio.sleep(0)
            return 2 * x

        async def fail() -> None:
            raise KeyError("nope")

        async def slow() -> None:
            await trio.sleep(60)

        async def add_one(x: int) -> int:
            await asyncio.sleep(0)
            return x + 1

        async def round_trip(x: int) -> int:
            return await bridge.to_asyncio(add_one(x))

        assert await bridge.to_trio(double, 21) == 42
        assert await bridge.to_trio(round_trip, 1) == 2  # trio calling back into asyncio
        with pytest.raises(KeyError, match="nope"):
            await bridge.to_trio(fail)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bridge.to_trio(slow), 0.1)  # cancels the trio task
        stop.set()
        await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive()

    asyncio.run(main())
