"""Cost of the state root for ERC20-transfer blocks (a measurement script, not a test).

    .venv/bin/python tests/state/bench_state_root.py [--quick] [--profile]

The state: 10,000 externally owned accounts plus one ERC20 contract whose storage holds 10,000
balances. A block of N transfers changes N sender accounts (nonce and balance) and 2N slots of
the contract's storage: N senders' balances (updates) and N recipients' (new slots). Reported:
``apply`` (the storage trie's and the account trie's update and root) plus ``commit``, in ms
of wall and of CPU time, and CPU µs per changed leaf (2N slots + N accounts + the contract's
account), best of several runs because the machine is shared. "warm" keeps the state decoded
in memory, as a running node does; "cold" re-opens it from committed nodes in a dict and
loads what the block touches.
The ``trie`` package's ``HexaryTrie`` runs a sample of the same changes for comparison.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from timeit import timeit

import rlp
from supervm.crypto import _public_keccak256 as _slow_keccak
from supervm.state import Account, StateRoot, keccak256, rlp_encode
from supervm.state.trie import _new_keccak
from trie import HexaryTrie

N_ACCOUNTS = 10_000
TOKEN = b"\xee" * 20


def address(i: int) -> bytes:
    return i.to_bytes(20, "big")


def slot(i: int) -> bytes:
    # Solidity's mapping slot: keccak(key . slot index); any 32 bytes do here.
    return keccak256(address(i) + bytes(32))


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def genesis() -> tuple[dict[bytes, Account], dict[bytes, dict[bytes, bytes | None]]]:
    accounts = {address(i): Account(0, 10**21 + i) for i in range(N_ACCOUNTS)}
    accounts[TOKEN] = Account(1, 0, keccak256(b"erc20 code"))
    storage: dict[bytes, dict[bytes, bytes | None]] = {
        TOKEN: {slot(i): word(10**18 + i) for i in range(N_ACCOUNTS)}
    }
    return accounts, storage


def block(n: int) -> tuple[dict[bytes, Account | None], dict[bytes, dict[bytes, bytes | None]]]:
    accounts: dict[bytes, Account | None] = {}
    slots: dict[bytes, bytes | None] = {}
    for i in range(n):
        accounts[address(i)] = Account(1, 10**21 + i - 21_000 * 10**9)
        slots[slot(i)] = word(10**18 + i - 1)  # the sender's token balance
        slots[slot(N_ACCOUNTS + i)] = word(1)  # a new holder
    return accounts, {TOKEN: slots}


def build() -> tuple[StateRoot, dict[bytes, bytes]]:
    state = StateRoot()
    state.apply(*genesis())
    return state, state.commit()


def best(runs: list[float]) -> str:
    return f"best {min(runs) * 1e3:7.1f} ms, median {statistics.median(runs) * 1e3:7.1f} ms"


def bench_block(n: int, reps: int, cold: bool) -> None:
    accounts, storage = block(n)
    leaves = 3 * n + 1
    walls, cpus, commits = [], [], []
    nodes: dict[bytes, bytes] = {}
    for _ in range(reps):
        state, db = build()
        if cold:
            state = StateRoot(state.root_hash(), db.get)
        # A node's state is long-lived: do not bill this block for collecting the genesis build.
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        state.apply(accounts, storage)
        w1 = time.perf_counter()
        nodes = state.commit()
        w2, c2 = time.perf_counter(), time.process_time()
        walls.append(w2 - w0)
        cpus.append(c2 - c0)
        commits.append(w2 - w1)
    kind = "cold" if cold else "warm"
    print(
        f"{n:6d} transfers, {kind}: apply+commit {best(walls)} wall, best {min(cpus) * 1e3:.1f} ms"
        f" CPU (commit alone {min(commits) * 1e3:.1f} ms) = {min(cpus) / leaves * 1e6:.2f} µs"
        f" per changed leaf ({leaves} leaves, {len(nodes)} new nodes)"
    )


def bench_hexary(n: int, sample: int) -> None:
    """HexaryTrie on the same kind of change: the token's storage trie, then the accounts."""
    store: dict[bytes, bytes] = {}
    storage = HexaryTrie(store)
    with storage.squash_changes() as batch:
        for i in range(N_ACCOUNTS):
            batch[keccak256(slot(i))] = rlp.encode(word(10**18 + i).lstrip(b"\0"))
    accounts = HexaryTrie({})
    with accounts.squash_changes() as batch:
        for i in range(N_ACCOUNTS):
            a = Account(0, 10**21 + i)
            batch[keccak256(address(i))] = rlp.encode(
                [a.nonce, a.balance, storage.root_hash, a.code_hash]
            )
    sample_accounts, sample_storage = block(sample)
    t0 = time.perf_counter()
    for k, v in sample_storage[TOKEN].items():
        assert v is not None
        storage[keccak256(k)] = rlp.encode(v.lstrip(b"\0"))
    for addr, acc in sample_accounts.items():
        assert acc is not None
        accounts[keccak256(addr)] = rlp.encode(
            [acc.nonce, acc.balance, storage.root_hash, acc.code_hash]
        )
    elapsed = time.perf_counter() - t0
    per_leaf = elapsed / (3 * sample)
    print(
        f"HexaryTrie, {sample} transfers' changes on the same state: {elapsed * 1e3:.0f} ms ="
        f" {per_leaf * 1e6:.0f} µs per changed leaf; {n} transfers would take about"
        f" {per_leaf * (3 * n + 1):.1f} s"
    )


def micro() -> None:
    def per_call(fn: Callable[[], object], number: int = 100_000) -> float:
        return min(timeit(fn, number=number) for _ in range(5)) / number * 1e6

    import eth_hash.auto

    fast = _new_keccak()
    for size in (32, 110, 532):
        data = bytes(range(256))[:size] if size <= 256 else bytes(size)
        raw = per_call(lambda data=data: fast(data))  # type: ignore[misc]
        public = per_call(lambda data=data: _slow_keccak(data))  # type: ignore[misc]
        eth = per_call(lambda data=data: eth_hash.auto.keccak(data))  # type: ignore[misc]
        print(
            f"keccak {size:3d} B: raw pycryptodome state {raw:.2f} µs,"
            f" keccak.new {public:.2f} µs, eth_hash.auto {eth:.2f} µs"
        )
    account = [b"\x01", (10**21).to_bytes(9, "big"), b"\x11" * 32, b"\x22" * 32]
    print(
        f"rlp of an account: rlp_encode {per_call(lambda: rlp_encode(account)):.2f} µs,"
        f" rlp.encode {per_call(lambda: rlp.encode(account)):.2f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--profile", action="store_true", help="profile one warm 10k block")
    args = parser.parse_args()
    reps = 2 if args.quick else 7
    print(f"Python {sys.version.split()[0]}")
    if args.profile:
        accounts, storage = block(10_000)
        state, _ = build()
        prof = cProfile.Profile()
        prof.enable()
        state.apply(accounts, storage)
        state.commit()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return
    micro()
    for n in (1_000, 10_000):
        bench_block(n, reps, cold=False)
        bench_block(n, reps, cold=True)
    bench_hexary(10_000, 300 if args.quick else 1_000)


if __name__ == "__main__":
    main()
