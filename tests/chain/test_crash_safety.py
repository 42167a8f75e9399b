"""``kill -9`` while a chain on LMDB commits blocks: it comes back at the last block or the next.

A child process builds blocks in a loop (value transfers and calls of the WASM contract in
``pipeline_contract.wat``), printing each committed head; the parent kills it with SIGKILL at a
random moment (after a random number of blocks, at a random point of the next one, sometimes
before it has opened the chain), again and again on the same data directory. After each kill
the parent reopens the chain and checks that it holds whole blocks only: the head is the last
block the child reported or the one after, every block up to it is there with its receipts and
index entries and nothing beyond it, and the flat world state is exactly the head's state root
(recomputed from scratch) and what the blocks did.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
import rlp
from supervm import Kernel
from supervm.chain.chain import Chain
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import dev_genesis
from supervm.chain.receipts import receipts_root
from supervm.chain.store import (
    BLOCK_PREFIX,
    CANONICAL_PREFIX,
    HEADER_PREFIX,
    RECEIPTS_PREFIX,
    TX_INDEX_PREFIX,
)
from supervm.chain.transactions import Transaction
from supervm.state.commitment import TRIE_NODE_PREFIX, root_changes
from supervm.state.keys import STORAGE_PREFIX, keccak256
from supervm.state.root import StateRoot
from supervm.state.storage import Storage, StorageSettings

ROUNDS = 10
ACCOUNTS = dev_accounts(4)
BALANCE = 10_000 * 10**18
WAT = Path(__file__).with_name("pipeline_contract.wat")
#: The contract is the first transaction of account 0 (nonce 0).
CONTRACT = keccak256(rlp.encode([ACCOUNTS[0].address, 0]))[12:]
#: Where the child sends value: the accounts and a few fresh addresses.
RECIPIENTS = [a.address for a in ACCOUNTS] + [bytes([0xA0 + i]) * 20 for i in range(4)]

CHILD = textwrap.dedent(
    """
    import json, random, sys
    from pathlib import Path

    import wasmtime
    from supervm import Kernel
    from supervm.chain.chain import Chain
    from supervm.chain.dev_accounts import dev_accounts
    from supervm.chain.genesis import parse_genesis
    from supervm.chain.store import ChainStore
    from supervm.chain.transactions import UnsignedTransaction, sign_transaction
    from supervm.execution.wasm_binary import with_end_marker
    from supervm.state.storage import StorageSettings

    data_dir, genesis_path, wat_path, contract_hex, recipients_hex, seed = sys.argv[1:]
    contract = bytes.fromhex(contract_hex)
    recipients = [bytes.fromhex(r) for r in recipients_hex.split(",")]
    rng = random.Random(int(seed))
    kernel = Kernel.from_plugins()
    storage = kernel.open_storage("lmdb", StorageSettings(data_dir=Path(data_dir)))
    raw = Path(genesis_path).read_bytes()
    if ChainStore(storage).head() is None:
        chain = Chain.initialise(kernel, storage, parse_genesis(json.loads(raw)), raw)
    else:
        chain = Chain(kernel, storage)
    module = with_end_marker(bytes(wasmtime.wat2wasm(Path(wat_path).read_text())))
    accounts = dev_accounts(4)

    def signed(account, nonce, to, value=0, data=b"", gas=21_000):
        unsigned = UnsignedTransaction(
            type=2, chain_id=chain.chain_id, nonce=nonce, max_priority_fee_per_gas=10**9,
            max_fee_per_gas=5 * 10**9, gas=gas, to=to, value=value, data=data,
        )
        return sign_transaction(unsigned, account.private_key)

    while True:
        state = chain.state()
        nonces = {a.address: state.nonce(a.address) for a in accounts}
        txs = []

        def add(account, *args, **kwargs):
            txs.append(signed(account, nonces[account.address], *args, **kwargs))
            nonces[account.address] += 1

        if not state.has_code(contract):
            assert nonces[accounts[0].address] == 0, "account 0's first transaction deploys"
            add(accounts[0], None, data=module + (42).to_bytes(32, "big"), gas=400_000)
        for _ in range(rng.randint(3, 10)):
            account = rng.choice(accounts)
            if rng.random() < 0.5:
                add(account, rng.choice(recipients), value=rng.randint(0, 10**15))
            else:
                data = bytes([rng.choice([2, 3]), rng.randint(0, 2)]) + bytes(8)
                add(account, contract, data=data, gas=100_000)
        built = chain.build_block(txs, timestamp=chain.head.timestamp + 12)
        if built.executed.rejected:
            sys.exit(f"rejected: {built.executed.rejected}")
        print(built.block.header.number, flush=True)
    """
)


def open_lmdb(kernel: Kernel, path: Path) -> Storage:
    return kernel.open_storage("lmdb", StorageSettings(data_dir=path))


def check_recovered(chain: Chain, storage: Storage) -> None:
    """Whole blocks 0..head and nothing else; the state is the head's and the blocks'."""
    store, head = chain.store, chain.head
    assert store.head() == head
    assert store.canonical_hash(head.number + 1) is None
    hashes: list[bytes] = []
    transactions: list[tuple[Transaction, int]] = []  # with the receipt's status
    burnt = 0
    for number in range(head.number + 1):
        block_hash = store.canonical_hash(number)
        assert block_hash is not None, f"block {number} of {head.number} missing"
        header = store.header(block_hash)
        block = store.block(block_hash)
        receipts = store.receipts(block_hash)
        assert header is not None and block is not None and receipts is not None, number
        assert header.number == number and block.header == header
        assert header.hash == block_hash
        if number:
            assert header.parent_hash == hashes[-1]
        assert len(receipts) == len(block.transactions)
        assert receipts_root(receipts) == header.receipts_root
        for index, tx in enumerate(block.transactions):
            assert store.transaction_location(tx.hash) == (block_hash, index)
        transactions += [(tx, r.status) for tx, r in zip(block.transactions, receipts, strict=True)]
        burnt += header.gas_used * (header.base_fee_per_gas or 0)
        hashes.append(block_hash)
    # Nothing of a torn or later block: exactly one entry per block (and per transaction).
    for prefix in (CANONICAL_PREFIX, HEADER_PREFIX, BLOCK_PREFIX, RECEIPTS_PREFIX):
        assert sum(1 for _ in storage.iterate_prefix(prefix)) == head.number + 1, prefix
    assert sum(1 for _ in storage.iterate_prefix(TX_INDEX_PREFIX)) == len(transactions)

    # The flat world state, folded into a fresh trie, is the head's state root.
    keys = [key for key, _ in storage.iterate(b"\x01", b"\x06")]
    accounts, evm, wasm = root_changes(keys, storage.get)
    assert StateRoot().apply(accounts, evm, wasm_storage=wasm) == head.state_root

    # The head's trie nodes are all stored, and agree with the flat state.
    def get_node(node_hash: bytes) -> bytes | None:
        return storage.get(TRIE_NODE_PREFIX + node_hash)

    root = StateRoot(head.state_root, get_node)
    state = chain.state()
    for address in [*RECIPIENTS, CONTRACT]:
        leaf = root.account(address)
        fields = (0, 0) if leaf is None else (leaf.nonce, leaf.balance)
        assert fields == (state.nonce(address), state.balance(address)), address.hex()
    for flat_key, value in storage.iterate_prefix(STORAGE_PREFIX + CONTRACT):
        assert root.storage(CONTRACT, flat_key[21:]) == value

    # What the blocks did: each sender's nonce counts its transactions, the contract's counters
    # count its successful increments (op 2: "s" + key, op 3: "a" + key), and no wei appeared
    # or vanished but the burnt base fees.
    sent = Counter(tx.sender for tx, _ in transactions)
    for dev in ACCOUNTS:
        assert state.nonce(dev.address) == sent[dev.address]
    calls = Counter(tx.data[:2] for tx, status in transactions if tx.to == CONTRACT and status)
    for slot in range(3):
        for op, name, size in ((2, b"s", 8), (3, b"a", 32)):
            count = calls[bytes([op, slot])]
            expected = count.to_bytes(size, "little") if count else None
            assert state.storage(CONTRACT, name + bytes([slot])) == expected, (op, slot)
    total = sum(int.from_bytes(v, "little") for _, v in storage.iterate_prefix(b"\x04"))
    assert total == BALANCE * len(ACCOUNTS) - burnt


@pytest.mark.slow
def test_kill_9_during_block_commits_keeps_whole_blocks(tmp_path: Path) -> None:
    rng = random.Random()
    data_dir = tmp_path / "chain"
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(dev_genesis(tuple(a.address for a in ACCOUNTS))))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    recipients = ",".join(r.hex() for r in RECIPIENTS)
    kernel = Kernel.from_plugins()
    head = -1  # no chain yet
    block_time = 0.05  # an estimate, refined from the child's output (to aim the kills)
    for round_ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, str(script), str(data_dir), str(genesis), str(WAT), CONTRACT.hex(),
             recipients, str(rng.randrange(2**32))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert child.stdout is not None and child.stderr is not None
        printed: list[int] = []
        try:
            # Most rounds wait for a few blocks; one in four kills at a random moment of the
            # start (opening the storage and the chain, or the first block).
            wait_for = rng.randint(1, 5) if rng.random() < 0.75 or round_ == 0 else 0
            last = time.monotonic()
            for _ in range(wait_for):
                line = child.stdout.readline()
                if not line:
                    break
                printed.append(int(line))
                now = time.monotonic()
                if len(printed) > 1:
                    block_time = now - last
                last = now
            if wait_for:
                # Somewhere in the next block: executing it, or committing it.
                time.sleep(rng.uniform(0, 1.2 * block_time))
            else:
                time.sleep(rng.uniform(0, 2.5))
            child.send_signal(signal.SIGKILL)
            rest = child.stdout.read()
            errors = child.stderr.read()
        finally:
            child.kill()
            child.wait(timeout=30)
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL, errors
        printed += [int(line) for line in rest.splitlines() if line.strip()]
        first = max(head, 0) + 1
        assert printed == list(range(first, first + len(printed))), (printed, head)
        reported = printed[-1] if printed else head

        storage = open_lmdb(kernel, data_dir)
        try:
            if reported < 0 and storage.get(b"\x16head") is None:
                # Killed before the genesis was written: nothing at all may be there.
                assert next(iter(storage.iterate()), None) is None
                continue
            chain = Chain(kernel, storage)
            assert reported <= chain.head.number <= max(reported, 0) + 1, (reported, chain.head)
            check_recovered(chain, storage)
            head = chain.head.number
            chain.close()
        finally:
            storage.close()
    assert head >= ROUNDS // 2, "the child made too little progress to test anything"

    # The recovered chain goes on.
    storage = open_lmdb(kernel, data_dir)
    try:
        chain = Chain(kernel, storage)
        chain.build_block([], timestamp=chain.head.timestamp + 12)
        check_recovered(chain, storage)
        chain.close()
    finally:
        storage.close()
