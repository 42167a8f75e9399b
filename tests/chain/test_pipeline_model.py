"""The block pipeline against a reference model, on random sequences of transactions.

Hypothesis draws blocks of *intents* (value transfers between a handful of funded accounts,
some with a wrong nonce, too high a value or a fee cap below the base fee; creates of the WASM
contract in ``pipeline_contract.wat``; calls of those contracts that set, increment, add to and
delete storage keys, revert or trap). Each intent is turned into a signed transaction just
before its block is built, from what the model expects the state to be, and the block is built
with :meth:`Chain.build_block`. A small model, written here from Ethereum's rules rather than
from the chain code, says which transactions are rejected and why, what every included one
pays (``gas_used * effective price``, the tip to the coinbase, the base fee burnt) and what it
does to balances, nonces and contract storage; after every block the chain's whole flat world
state must be what the model says.

The same blocks then go through the other ways a chain is made: the parallel scheduler, a
restart on LMDB, export and re-import, and import of tampered blocks, which must be refused
without a trace.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import pytest
import rlp
import wasmtime
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from supervm import Kernel, SchedulerSettings
from supervm.chain.blocks import Block, decode_block, encode_block, transactions_root
from supervm.chain.chain import BlockImportError, BuiltBlock, Chain
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import DEV_CHAIN_ID, dev_genesis, parse_genesis
from supervm.chain.receipts import receipts_root
from supervm.chain.store import ChainStore
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.execution.interfaces import Scheduler
from supervm.execution.wasm_binary import with_end_marker
from supervm.state.commitment import TRIE_NODE_PREFIX
from supervm.state.keys import keccak256
from supervm.state.root import StateRoot
from supervm.state.storage import Storage, StorageSettings
from trie import HexaryTrie  # type: ignore[attr-defined]

# -- the chain the tests run ---------------------------------------------------------------------

CHAIN_ID = DEV_CHAIN_ID
GWEI = 10**9
GAS_LIMIT = 30_000_000
GENESIS_BASE_FEE = GWEI
RICH = 10_000 * 10**18
#: Enough for a few transactions only: "insufficient funds" for gas, not just for value.
POOR = 3 * 10**14

ACCOUNTS = dev_accounts(4)
SENDERS = [a.address for a in ACCOUNTS]
KEYS = [a.private_key for a in ACCOUNTS]
#: An address never funded and without code (calls to it are plain transfers with data).
OUTSIDER = bytes.fromhex("ee" * 20)
#: Transfer recipients: the senders (self-transfers included) and two fresh addresses.
RECIPIENTS = [*SENDERS, OUTSIDER, bytes.fromhex("0d" * 20)]
#: Fee recipients: a fresh address, or a sender (whose balance then also gains tips).
COINBASES = [bytes.fromhex("c0" * 20), SENDERS[0]]

GENESIS_FILE = dev_genesis(tuple(SENDERS), balance=RICH)
GENESIS_FILE["alloc"]["0x" + SENDERS[3].hex()]["balance"] = hex(POOR)
GENESIS_BYTES = json.dumps(GENESIS_FILE, sort_keys=True).encode()
GENESIS = parse_genesis(GENESIS_FILE)
INITIAL_BALANCES = {a: (POOR if a == SENDERS[3] else RICH) for a in SENDERS}

MODULE = bytes(wasmtime.wat2wasm(Path(__file__).with_name("pipeline_contract.wat").read_text()))
#: The code a create stores: the module up to and including its end marker.
CODE = with_end_marker(MODULE)

CREATE_GAS = 400_000
SHORT_CREATE_GAS = 100_000  # the intrinsic gas passes, the 200 gas/byte code deposit does not
CALL_GAS = 100_000
#: Three trapping calls with this much gas fill more than half a block: the base fee rises. Five
#: do not fit in one block: the builder leaves out what does not fit.
BIG_CALL_GAS = 7_000_000

# Ethereum's intrinsic gas (Cancun), written out here so the model does not use the chain's.
TX_GAS = 21_000
CREATE_EXTRA = 32_000


def intrinsic(data: bytes, create: bool) -> int:
    zeros = data.count(0)
    gas = TX_GAS + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += CREATE_EXTRA + 2 * ((len(data) + 31) // 32)
    return gas


def create_address(sender: bytes, nonce: int) -> bytes:
    return keccak256(rlp.encode([sender, nonce]))[12:]


def next_base_fee(base_fee: int, gas_used: int, gas_limit: int) -> int:
    """EIP-1559's base fee of a child block."""
    target = gas_limit // 2
    if gas_used == target:
        return base_fee
    if gas_used > target:
        return base_fee + max(base_fee * (gas_used - target) // target // 8, 1)
    return base_fee - base_fee * (target - gas_used) // target // 8


# -- intents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fee:
    """``legacy``: gas price ``1 gwei`` or ``2 gwei``; ``dynamic``: fee cap ``high`` (3 gwei),
    ``base`` (exactly the block's base fee) or ``below`` (one wei less), and a tip."""

    kind: str
    cap: str = "high"
    tip: int = 0


@dataclass(frozen=True)
class Transfer:
    sender: int
    to: int
    value: tuple[str, int]  # ("small", wei), ("edge", 0 or 1: one wei too much), ("huge", 0)
    nonce: str  # "ok", "low", "high"
    fee: Fee


@dataclass(frozen=True)
class Create:
    sender: int
    argument: int
    value: int
    short_of_gas: bool
    nonce: str
    fee: Fee


@dataclass(frozen=True)
class Invoke:
    sender: int
    contract: int  # index (mod the number deployed); none deployed: OUTSIDER
    op: int
    key: int
    argument: int
    value: int
    gas: str  # "normal"; "oog": too little to run; "big": a lot (a trap burns it all)
    nonce: str
    fee: Fee


Intent = Transfer | Create | Invoke

fees = st.one_of(
    st.builds(Fee, st.just("legacy"), st.sampled_from(["1", "2"])),
    st.builds(
        Fee,
        st.just("dynamic"),
        st.sampled_from(["high", "high", "base", "below"]),
        st.sampled_from([0, 1, GWEI, 5 * GWEI]),
    ),
)
nonces = st.sampled_from(["ok"] * 8 + ["low", "high"])
senders = st.integers(0, len(SENDERS) - 1)
transfers = st.builds(
    Transfer,
    senders,
    st.integers(0, len(RECIPIENTS) - 1),
    st.one_of(
        st.tuples(st.just("small"), st.integers(0, 10**18)),
        st.tuples(st.just("edge"), st.integers(0, 1)),
        st.tuples(st.just("huge"), st.just(0)),
    ),
    nonces,
    fees,
)
creates = st.builds(
    Create,
    senders,
    st.integers(0, 2**256 - 1),
    st.sampled_from([0, 0, 12345]),
    st.sampled_from([False] * 4 + [True]),
    nonces,
    fees,
)
invokes = st.builds(
    Invoke,
    senders,
    st.integers(0, 3),
    st.sampled_from([1, 2, 2, 3, 4, 5, 0, 9]),
    st.integers(0, 2),
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 0, 0, 777]),
    st.sampled_from(["normal"] * 6 + ["oog", "big"]),
    nonces,
    fees,
)
intents = st.one_of(transfers, transfers, creates, invokes, invokes, invokes, invokes)
blocks_of = st.lists(
    st.tuples(st.lists(intents, max_size=12), st.sampled_from(COINBASES)), min_size=1, max_size=8
)

# -- the model -----------------------------------------------------------------------------------


@dataclass
class Model:
    """The world state as Ethereum's rules make it, plus what was burnt."""

    balances: dict[bytes, int] = field(default_factory=lambda: dict(INITIAL_BALANCES))
    nonces: dict[bytes, int] = field(default_factory=dict)
    code: dict[bytes, bytes] = field(default_factory=dict)
    storage: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)
    contracts: list[bytes] = field(default_factory=list)
    burnt: int = 0
    #: Execution gas (gas used less the intrinsic gas) of the contract paths seen so far: the
    #: same path must always cost the same.
    exec_gas: dict[tuple[object, ...], int] = field(default_factory=dict)

    def balance(self, address: bytes) -> int:
        return self.balances.get(address, 0)

    def nonce(self, address: bytes) -> int:
        return self.nonces.get(address, 0)

    def credit(self, address: bytes, amount: int) -> None:
        self.balances[address] = self.balance(address) + amount

    def debit(self, address: bytes, amount: int) -> None:
        assert self.balance(address) >= amount
        self.balances[address] = self.balance(address) - amount


@dataclass(frozen=True)
class Planned:
    """An intent made a signed transaction."""

    intent: Intent
    tx: Transaction

    @property
    def sender(self) -> bytes:
        return SENDERS[self.intent.sender]


@dataclass(frozen=True)
class Expected:
    """What the model expects of one transaction."""

    rejected: str | None = None  # the start of the reason
    price: int = 0
    success: bool = True
    gas: int | None = None  # exactly, if the model knows it without running the contract
    path: tuple[object, ...] | None = None  # the contract path, whose gas is learnt
    address: bytes | None = None  # a successful create's


def fee_cap(tx: Transaction) -> int:
    cap = tx.max_fee_per_gas if tx.type == 2 else tx.gas_price
    assert cap is not None
    return cap


def price_of(tx: Transaction, base_fee: int) -> int:
    if tx.type == 2:
        assert tx.max_fee_per_gas is not None and tx.max_priority_fee_per_gas is not None
        return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
    assert tx.gas_price is not None
    return tx.gas_price


def s_key(key: int) -> bytes:
    return b"s" + bytes([key])


def a_key(key: int) -> bytes:
    return b"a" + bytes([key])


def expect(model: Model, planned: Planned, base_fee: int) -> Expected:
    """What ``planned`` does on the model's state, in a block with ``base_fee``."""
    tx, intent, sender = planned.tx, planned.intent, planned.sender
    state_nonce = model.nonce(sender)
    if tx.nonce < state_nonce:
        return Expected(rejected="nonce too low")
    if tx.nonce > state_nonce:
        return Expected(rejected="nonce too high")
    if fee_cap(tx) < base_fee:
        return Expected(rejected="max fee per gas less than block base fee")
    if model.balance(sender) < tx.gas * fee_cap(tx) + tx.value:
        return Expected(rejected="insufficient funds")
    price = price_of(tx, base_fee)
    create = tx.to is None
    base_gas = intrinsic(tx.data, create)
    if isinstance(intent, Transfer) or (tx.to not in model.code and tx.to is not None):
        return Expected(price=price, gas=base_gas)  # no code runs: a value transfer
    if isinstance(intent, Create):
        if intent.short_of_gas:
            return Expected(price=price, success=False, gas=tx.gas)
        return Expected(price=price, path=("create",), address=create_address(sender, tx.nonce))
    assert isinstance(intent, Invoke) and tx.to is not None
    held = model.storage[tx.to]
    if intent.gas == "oog" or intent.op not in (1, 2, 3, 4, 5):
        return Expected(price=price, success=False, gas=tx.gas)  # a trap spends all the gas
    existed = (s_key(intent.key) in held, a_key(intent.key) in held)
    return Expected(price=price, success=intent.op != 5, path=("call", intent.op, *existed))


def apply(model: Model, planned: Planned, expected: Expected, gas_used: int, env: Env) -> None:
    """Apply an included transaction's effects to the model."""
    tx, intent, sender = planned.tx, planned.intent, planned.sender
    price = expected.price
    model.debit(sender, gas_used * price)
    model.nonces[sender] = tx.nonce + 1
    model.credit(env.coinbase, gas_used * (price - env.base_fee))
    model.burnt += gas_used * env.base_fee
    if not expected.success:
        return
    if isinstance(intent, Create):
        address = expected.address
        assert address is not None
        model.nonces[address] = 1
        model.code[address] = CODE
        model.storage[address] = {b"init": intent.argument.to_bytes(32, "big")}
        model.contracts.append(address)
        model.debit(sender, tx.value)
        model.credit(address, tx.value)
        return
    assert tx.to is not None
    model.debit(sender, tx.value)
    model.credit(tx.to, tx.value)
    if not isinstance(intent, Invoke) or tx.to not in model.code:
        return
    held = model.storage[tx.to]
    if intent.op == 1:
        held[s_key(intent.key)] = intent.argument.to_bytes(8, "little")
    elif intent.op == 2:
        old = held.get(s_key(intent.key), bytes(8))
        count = (int.from_bytes(old, "little") + 1) % 2**64
        held[s_key(intent.key)] = count.to_bytes(8, "little")
    elif intent.op == 3:
        old = held.get(a_key(intent.key), b"")
        total = (int.from_bytes(old, "little") + 1) % 2**256
        held[a_key(intent.key)] = total.to_bytes(32, "little")
    elif intent.op == 4:
        held.pop(s_key(intent.key), None)


@dataclass(frozen=True)
class Env:
    base_fee: int
    coinbase: bytes


# -- turning intents into transactions ---------------------------------------------------------


def cap_of(fee: Fee, base_fee: int) -> int:
    """The gas price (legacy) or fee cap (EIP-1559) a fee intent stands for."""
    if fee.kind == "legacy":
        return int(fee.cap) * GWEI
    return {"high": 3 * GWEI, "base": base_fee, "below": base_fee - 1}[fee.cap]


def sign(intent: Intent, nonce: int, base_fee: int, to: bytes | None, value: int, data: bytes,
         gas: int) -> Transaction:  # fmt: skip
    fee = intent.fee
    cap = cap_of(fee, base_fee)
    if fee.kind == "legacy":
        unsigned = UnsignedTransaction(
            type=0, chain_id=CHAIN_ID, nonce=nonce, gas_price=cap, gas=gas, to=to, value=value,
            data=data,
        )  # fmt: skip
    else:
        unsigned = UnsignedTransaction(
            type=2, chain_id=CHAIN_ID, nonce=nonce, max_priority_fee_per_gas=min(fee.tip, cap),
            max_fee_per_gas=cap, gas=gas, to=to, value=value, data=data,
        )  # fmt: skip
    return sign_transaction(unsigned, KEYS[intent.sender])


def plan_block(model: Model, intents: Sequence[Intent], env: Env) -> list[Planned]:
    """Sign ``intents`` with the nonces and values the model expects, predicting the block as it
    goes (learnt gas where it is known, the gas limit otherwise: only an estimate, used to aim
    values at the edge of a balance; the outcome is checked against the exact model later)."""
    guess = copy.deepcopy(model)
    planned: list[Planned] = []
    room = GAS_LIMIT
    for intent in intents:
        sender = SENDERS[intent.sender]
        nonce = guess.nonce(sender)
        if intent.nonce == "low":
            nonce = nonce - 1 if nonce else nonce + 1
        elif intent.nonce == "high":
            nonce += 1
        if isinstance(intent, Transfer):
            to: bytes | None = RECIPIENTS[intent.to]
            data, gas = b"", TX_GAS
        elif isinstance(intent, Create):
            to = None
            data = CODE + intent.argument.to_bytes(32, "big")
            gas = SHORT_CREATE_GAS if intent.short_of_gas else CREATE_GAS
        else:
            contracts = guess.contracts
            to = contracts[intent.contract % len(contracts)] if contracts else OUTSIDER
            data = bytes([intent.op, intent.key]) + intent.argument.to_bytes(8, "little")
            gas = {"normal": CALL_GAS, "big": BIG_CALL_GAS, "oog": intrinsic(data, False) + 300}[
                intent.gas
            ]
        value = intent.value if not isinstance(intent, Transfer) else 0
        if isinstance(intent, Transfer):
            kind, amount = intent.value
            if kind == "small":
                value = amount
            else:
                spare = guess.balance(sender) - gas * cap_of(intent.fee, env.base_fee)
                value = max(spare, 0) + amount if kind == "edge" else guess.balance(sender) + 1
        tx = sign(intent, nonce, env.base_fee, to, value, data, gas)
        item = Planned(intent, tx)
        planned.append(item)
        if tx.gas > room:
            continue  # the builder leaves it out
        room -= tx.gas
        expected = expect(guess, item, env.base_fee)
        if expected.rejected is None:
            gas_used = expected.gas
            if gas_used is None:
                assert expected.path is not None
                learnt = guess.exec_gas.get(expected.path)
                gas_used = tx.gas if learnt is None else intrinsic(tx.data, to is None) + learnt
            apply(guess, item, expected, gas_used, env)
    return planned


# -- building and checking ---------------------------------------------------------------------


def note(what: str) -> None:
    """Count an outcome in Hypothesis's statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(what)


@dataclass
class Scenario:
    """Blocks built on one chain, checked against the model after each."""

    chain: Chain
    model: Model = field(default_factory=Model)
    built: list[BuiltBlock] = field(default_factory=list)
    #: What each block was built from: (transactions, timestamp, coinbase), to build it again.
    inputs: list[tuple[list[Transaction], int, bytes]] = field(default_factory=list)

    def build(self, intents: Sequence[Intent], coinbase: bytes) -> BuiltBlock:
        parent = self.chain.head
        base_fee = next_base_fee(parent.base_fee_per_gas or 0, parent.gas_used, parent.gas_limit)
        env = Env(base_fee, coinbase)
        planned = plan_block(self.model, intents, env)
        txs = [p.tx for p in planned]
        timestamp = 10 * (parent.number + 1)
        built = self.chain.build_block(txs, timestamp=timestamp, coinbase=coinbase)
        self.inputs.append((txs, timestamp, coinbase))
        self.built.append(built)
        check_block(self.model, planned, built, env, self.chain.store)
        check_state(self.chain, self.model)
        return built

    def build_all(self, blocks: Sequence[tuple[list[Intent], bytes]]) -> None:
        for intents, coinbase in blocks:
            self.build(intents, coinbase)


def check_block(
    model: Model, planned: list[Planned], built: BuiltBlock, env: Env, store: ChainStore
) -> None:
    header, executed = built.block.header, built.executed
    assert header.base_fee_per_gas == env.base_fee
    assert header.coinbase == env.coinbase
    # Matched in order: a block may hold the same transaction twice (the second one rejected).
    rejected = iter(executed.rejected)
    included = iter(zip(executed.transactions, executed.results, built.receipts, strict=True))
    cumulative = 0
    model_included: list[Transaction] = []
    room = header.gas_limit
    for index, item in enumerate(planned):
        tx = item.tx
        if tx.gas > room:
            # Transactions are taken in order while their gas limits fit the block's.
            note("left out: no room")
            continue
        room -= tx.gas
        expected = expect(model, item, env.base_fee)
        if expected.rejected is not None:
            got, why = next(rejected, (None, ""))
            assert got is not None and got.hash == tx.hash, f"tx {index} should be rejected"
            assert why.startswith(expected.rejected), (index, item.intent, why)
            note(f"rejected: {expected.rejected}")
            continue
        got_tx, result, receipt = next(included, (None, None, None))
        assert got_tx is not None and result is not None and receipt is not None
        assert got_tx.hash == tx.hash, f"tx {index} ({item.intent}) should be included"
        assert result.rejected is None
        assert result.effective_gas_price == expected.price
        assert result.status == int(expected.success), (index, item.intent, result.error)
        gas_used = result.gas_used
        base_gas = intrinsic(tx.data, tx.to is None)
        assert base_gas <= gas_used <= tx.gas
        if expected.gas is not None:
            assert gas_used == expected.gas, (index, item.intent)
        else:
            assert expected.path is not None
            assert gas_used > base_gas
            learnt = model.exec_gas.setdefault(expected.path, gas_used - base_gas)
            assert gas_used - base_gas == learnt, (index, expected.path)
        assert result.contract_address == (expected.address if expected.success else None)
        cumulative += gas_used
        assert receipt.status == result.status
        assert receipt.cumulative_gas_used == cumulative
        assert store.transaction_location(tx.hash) == (header.hash, len(model_included))
        model_included.append(tx)
        apply(model, item, expected, gas_used, env)
        runs = expected.path[:2] if expected.path else "no code" if expected.success else "oog/trap"
        note(f"included: {type(item.intent).__name__}, {runs}, status {result.status}")
    assert next(included, None) is None, "more transactions included than the model expects"
    assert next(rejected, None) is None, "more transactions rejected than the model expects"
    assert header.gas_used == executed.gas_used == cumulative
    assert store.head() == header
    assert store.receipts(header.hash) == list(built.receipts)
    stored = store.block_by_number(header.number)
    assert stored is not None and stored.header == header
    assert [tx.hash for tx in stored.transactions] == [tx.hash for tx in model_included]
    assert header.receipts_root == receipts_root(built.receipts)
    assert header.transactions_root == transactions_root(executed.transactions)


def expected_flat_state(model: Model) -> dict[bytes, bytes]:
    """The world state's keys and values (``supervm.state.keys``) the model implies."""
    flat: dict[bytes, bytes] = {}
    for address, nonce in model.nonces.items():
        if nonce:
            flat[b"\x03" + address] = nonce.to_bytes(8, "big")
    for address, balance in model.balances.items():
        if balance:
            flat[b"\x04" + address] = balance.to_bytes(32, "little")
    for address, code in model.code.items():
        flat[b"\x02" + keccak256(code)] = code
        flat[b"\x05" + address] = keccak256(code)
    for address, held in model.storage.items():
        for key, value in held.items():
            flat[b"\x01" + address + key] = value
    return flat


EMPTY_CODE_HASH = keccak256(b"")


def model_state_root(model: Model) -> bytes:
    """The state root the model's state has, built from scratch with the ``trie`` package:
    account leaves rlp([nonce, balance, storage_root, code_hash]) under keccak(address), WASM
    storage leaves rlp(value) under keccak(key), accounts with nothing left out (EIP-161)."""
    accounts = HexaryTrie({})
    for address in {*model.balances, *model.nonces, *model.code}:
        nonce, balance = model.nonce(address), model.balance(address)
        code = model.code.get(address)
        if not (nonce or balance or code):
            continue
        storage = HexaryTrie({})
        for key, value in model.storage.get(address, {}).items():
            storage.set(keccak256(key), rlp.encode(value))  # type: ignore[no-untyped-call]
        code_hash = keccak256(code) if code else EMPTY_CODE_HASH
        leaf = rlp.encode([nonce, balance, storage.root_hash, code_hash])
        accounts.set(keccak256(address), leaf)  # type: ignore[no-untyped-call]
    return bytes(accounts.root_hash)


def check_state(chain: Chain, model: Model) -> None:
    assert chain.head.state_root == model_state_root(model)
    state = chain.state()
    for address in {*RECIPIENTS, *COINBASES, *model.contracts}:
        assert state.balance(address) == model.balance(address), f"balance of {address.hex()}"
        assert state.nonce(address) == model.nonce(address), f"nonce of {address.hex()}"
        assert state.code(address) == model.code.get(address, b"")
    for address, held in model.storage.items():
        for key in (b"init", *(f(k) for k in range(3) for f in (s_key, a_key))):
            assert state.storage(address, key) == held.get(key), (address.hex(), key)
    actual = dict(chain.storage.iterate(b"\x01", b"\x06"))
    expected = expected_flat_state(model)
    differences = {
        k.hex(): (actual.get(k), expected.get(k))
        for k in actual.keys() | expected.keys()
        if actual.get(k) != expected.get(k)
    }
    assert not differences, differences
    total = sum(model.balances.values())
    assert total == sum(INITIAL_BALANCES.values()) - model.burnt
    # The in-memory state root agrees with the flat state.
    root = chain.state_root()
    assert root.root_hash() == chain.head.state_root
    for address in SENDERS:
        account = root.account(address)
        assert account is not None
        assert (account.nonce, account.balance) == (model.nonce(address), model.balance(address))


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as k:
        yield k


@pytest.fixture(scope="module")
def parallel(kernel: Kernel) -> Iterator[Scheduler]:
    """One parallel scheduler (one worker, small chunks) shared by the examples."""
    scheduler = kernel.scheduler(
        "parallel", SchedulerSettings(workers=1, options={"chunk_size": "2"})
    )
    yield scheduler
    scheduler.close()


def new_chain(kernel: Kernel, storage: Storage | None = None, **kwargs: Any) -> Chain:
    storage = storage if storage is not None else kernel.open_storage("memory")
    chain = Chain.initialise(kernel, storage, GENESIS, GENESIS_BYTES, **kwargs)
    assert chain.head.number == 0 and chain.head.base_fee_per_gas == GENESIS_BASE_FEE
    assert chain.head.gas_limit == GAS_LIMIT
    return chain


def contents(storage: Storage) -> list[tuple[bytes, bytes]]:
    return list(storage.iterate())


def open_lmdb(kernel: Kernel, path: Path) -> Storage:
    return kernel.open_storage("lmdb", StorageSettings(data_dir=path))


EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the tests -----------------------------------------------------------------------------------


@EXAMPLES
@given(blocks=blocks_of)
def test_chain_state_matches_the_model(
    kernel: Kernel, blocks: list[tuple[list[Intent], bytes]]
) -> None:
    Scenario(new_chain(kernel)).build_all(blocks)


def test_model_covers_every_outcome(kernel: Kernel) -> None:
    """One fixed sequence with every kind of outcome, so each check runs at least once."""
    fee, tip = Fee("dynamic", "high", GWEI), Fee("legacy", "2")
    scenario = Scenario(new_chain(kernel))
    scenario.build(
        [
            Transfer(0, 1, ("small", 5), "ok", fee),
            Create(1, 42, 12345, False, "ok", tip),
            Create(2, 7, 0, True, "ok", fee),  # the code deposit does not fit: status 0
            Transfer(2, 4, ("small", 1), "high", fee),
            Transfer(2, 4, ("huge", 0), "ok", fee),
            Transfer(3, 0, ("edge", 1), "ok", tip),  # one wei more than the poor account has
            Transfer(3, 0, ("edge", 0), "ok", tip),  # exactly all it has
            Transfer(1, 1, ("small", 9), "ok", Fee("dynamic", "below")),
        ],
        COINBASES[0],
    )
    invoke = [
        Invoke(0, 0, op, 1, 99, value, gas, "ok", fee)
        for op, value, gas in [
            (1, 777, "normal"), (2, 0, "normal"), (2, 0, "big"), (3, 0, "normal"),
            (3, 0, "normal"), (4, 0, "normal"), (5, 777, "normal"), (9, 0, "normal"),
            (1, 0, "oog"),
        ]
    ]  # fmt: skip
    built = scenario.build([*invoke, Transfer(0, 0, ("small", 1), "low", fee)], COINBASES[1])
    statuses = [r.status for r in built.executed.results]
    assert statuses == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert len(built.executed.rejected) == 1
    first = scenario.built[0].executed
    assert [why.split(":")[0] for _, why in first.rejected] == [
        "nonce too high",
        "insufficient funds for gas * price + value",
        "insufficient funds for gas * price + value",
        "max fee per gas less than block base fee",
    ]
    assert scenario.model.balance(SENDERS[3]) == 0
    assert [r.status for r in first.results] == [1, 1, 0, 1]
    (contract,) = scenario.model.contracts
    assert scenario.model.storage[contract] == {
        b"init": (42).to_bytes(32, "big"),
        b"a\x01": (2).to_bytes(32, "little"),
    }
    assert scenario.model.balance(contract) == 12345 + 777

    # Four trapping calls burn 28M gas, more than half the block; the fifth does not fit.
    traps = [Invoke(i % 3, 0, 9, 0, 0, 0, "big", "ok", fee) for i in range(5)]
    full = scenario.build(traps, COINBASES[0])
    assert len(full.block.transactions) == 4 and not full.executed.rejected
    assert full.block.header.gas_used == 4 * BIG_CALL_GAS
    after = scenario.build([Transfer(1, 2, ("small", 1), "ok", fee)], COINBASES[0])
    rises = (full.block.header.base_fee_per_gas or 0, after.block.header.base_fee_per_gas or 0)
    assert rises[1] > rises[0]


@EXAMPLES
@given(blocks=blocks_of)
def test_parallel_scheduler_gives_the_serial_roots(
    kernel: Kernel, parallel: Scheduler, blocks: list[tuple[list[Intent], bytes]]
) -> None:
    serial = Scenario(new_chain(kernel))
    serial.build_all(blocks)
    other = new_chain(kernel, scheduler=parallel)
    # Importing with the same scheduler, block by block in turn with the building (the
    # scheduler's replicas follow one storage, then the other).
    importer = new_chain(kernel, scheduler=parallel)
    for (txs, timestamp, coinbase), expected in zip(serial.inputs, serial.built, strict=True):
        built = other.build_block(txs, timestamp=timestamp, coinbase=coinbase)
        assert importer.import_block(encode_block(expected.block)) == expected.receipts
        assert built.block.header.state_root == expected.block.header.state_root
        assert built.block.header == expected.block.header
        assert built.receipts == expected.receipts
        assert [r.gas_used for r in built.executed.results] == [
            r.gas_used for r in expected.executed.results
        ]
        assert [why for _, why in built.executed.rejected] == [
            why for _, why in expected.executed.rejected
        ]
    assert contents(other.storage) == contents(serial.chain.storage)
    assert contents(importer.storage) == contents(serial.chain.storage)


@EXAMPLES
@given(blocks=blocks_of, split=st.integers(0, 8))
def test_restart_on_lmdb_keeps_the_chain(
    kernel: Kernel, blocks: list[tuple[list[Intent], bytes]], split: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain"
        storage = open_lmdb(kernel, path)
        scenario = Scenario(new_chain(kernel, storage))
        scenario.build_all(blocks[:split])
        head, before = scenario.chain.head, contents(storage)
        scenario.chain.close()
        storage.close()

        storage = open_lmdb(kernel, path)
        try:
            reopened = Chain(kernel, storage)
            assert reopened.head == head
            assert reopened.head.hash == head.hash
            assert reopened.chain_id == CHAIN_ID
            assert contents(storage) == before
            check_state(reopened, scenario.model)
            # It goes on as if it had never stopped.
            scenario.chain = reopened
            scenario.build_all(blocks[split:])
            assert reopened.head.number == len(blocks)
            reopened.close()
        finally:
            storage.close()


@EXAMPLES
@given(blocks=blocks_of, as_bytes=st.booleans())
def test_exported_blocks_import_into_the_same_chain(
    kernel: Kernel, blocks: list[tuple[list[Intent], bytes]], as_bytes: bool
) -> None:
    source = Scenario(new_chain(kernel))
    source.build_all(blocks)
    store = source.chain.store
    exported = []
    for number in range(1, source.chain.head.number + 1):
        block = store.block_by_number(number)
        assert block is not None
        raw = encode_block(block)
        assert raw == store.raw_block(block.hash)
        exported.append(raw)

    target = new_chain(kernel)
    for raw, built in zip(exported, source.built, strict=True):
        receipts = target.import_block(raw if as_bytes else decode_block(raw, chain_id=CHAIN_ID))
        assert receipts == built.receipts
    assert target.head.hash == source.chain.head.hash
    assert target.head.state_root == source.chain.head.state_root
    assert target.state_root().root_hash() == source.chain.head.state_root
    assert contents(target.storage) == contents(source.chain.storage)
    check_state(target, source.model)


def _tamper_state_root(block: Block) -> Block:
    return _with_header(block, state_root=keccak256(block.header.state_root))


def _tamper_gas_used(block: Block) -> Block:
    return _with_header(block, gas_used=block.header.gas_used + 1)


def _tamper_receipts_root(block: Block) -> Block:
    return _with_header(block, receipts_root=keccak256(block.header.receipts_root))


def _tamper_logs_bloom(block: Block) -> Block:
    bloom = block.header.logs_bloom
    return _with_header(block, logs_bloom=bytes([bloom[0] ^ 1]) + bloom[1:])


def _tamper_base_fee(block: Block) -> Block:
    return _with_header(block, base_fee_per_gas=(block.header.base_fee_per_gas or 0) + 1)


def _tamper_number(block: Block) -> Block:
    return _with_header(block, number=block.header.number + 1)


def _tamper_transaction(block: Block) -> Block:
    """One transaction's value changed without signing it again (its sender changes too)."""
    txs = list(block.transactions)
    txs[-1] = attrs.evolve(txs[-1], value=txs[-1].value + 1)
    return Block(block.header, tuple(txs), withdrawals=())


def _resign_transaction(block: Block) -> Block:
    """The first transaction signed again with the next nonce, the header's transactions root
    made to match: a well-formed block whose transaction is invalid."""
    txs = list(block.transactions)
    tx = txs[0]
    fields = {f.name: getattr(tx, f.name) for f in attrs.fields(UnsignedTransaction)}
    fields["nonce"] += 1
    key = KEYS[SENDERS.index(tx.sender)]
    txs[0] = sign_transaction(UnsignedTransaction(**fields), key)
    header = attrs.evolve(block.header, transactions_root=transactions_root(txs))
    return Block(header, tuple(txs), withdrawals=())


def _with_header(block: Block, **changes: Any) -> Block:
    return Block(attrs.evolve(block.header, **changes), block.transactions, withdrawals=())


TAMPERS: dict[str, tuple[Callable[[Block], Block], str]] = {
    "base fee": (_tamper_base_fee, "base fee differs"),
    "number": (_tamper_number, "number differs"),
    "state root": (_tamper_state_root, "state root differs"),
    "gas used": (_tamper_gas_used, "gas used differs"),
    "receipts root": (_tamper_receipts_root, "receipts root differs"),
    "logs bloom": (_tamper_logs_bloom, "logs bloom differs"),
    "transaction": (_tamper_transaction, "transactions root differs"),
    "re-signed transaction": (_resign_transaction, "transaction 0 (0x"),
}


@EXAMPLES
@given(
    blocks=blocks_of,
    which=st.integers(0, 4),
    tamper=st.sampled_from(sorted(TAMPERS)),
    as_bytes=st.booleans(),
)
def test_tampered_block_is_refused_without_a_trace(
    kernel: Kernel,
    blocks: list[tuple[list[Intent], bytes]],
    which: int,
    tamper: str,
    as_bytes: bool,
) -> None:
    source = Scenario(new_chain(kernel))
    source.build_all(blocks)
    with_txs = [b.block for b in source.built if b.block.transactions]
    assume(with_txs)
    bad = with_txs[which % len(with_txs)]
    make, message = TAMPERS[tamper]
    tampered = make(bad)

    target = new_chain(kernel)
    for built in source.built[: bad.number - 1]:
        target.import_block(encode_block(built.block))
    head, before = target.head, contents(target.storage)
    with pytest.raises(BlockImportError) as refused:
        target.import_block(encode_block(tampered) if as_bytes else tampered)
    assert message in str(refused.value)
    if tamper == "re-signed transaction":
        assert "invalid: nonce too high" in str(refused.value)
    assert target.head == head
    assert target.store.head() == head
    assert contents(target.storage) == before
    root = target.state_root()
    assert root.root_hash() == head.state_root
    state = target.state()
    for address in [*SENDERS, *COINBASES]:
        account = root.account(address)
        fields = (0, 0) if account is None else (account.nonce, account.balance)
        assert fields == (state.nonce(address), state.balance(address))
    # The StateRoot can be reopened from storage too: every node the head needs is there.
    fresh = StateRoot(head.state_root, lambda h: target.storage.get(TRIE_NODE_PREFIX + h))
    assert [fresh.account(a) for a in SENDERS] == [root.account(a) for a in SENDERS]

    # The genuine block (and the rest) still imports, to the source chain's state.
    for built in source.built[bad.number - 1 :]:
        target.import_block(encode_block(built.block))
    assert target.head.hash == source.chain.head.hash
    assert contents(target.storage) == contents(source.chain.storage)


@EXAMPLES
@given(blocks=blocks_of)
def test_earlier_states_read_through_the_tries_equal_the_flat_state_of_their_block(
    kernel: Kernel, blocks: list[tuple[list[Intent], bytes]]
) -> None:
    from supervm.state.historical import HistoricalStorage

    scenario = Scenario(new_chain(kernel))
    chain = scenario.chain
    snapshots = [(chain.head, dict(chain.storage.iterate(b"\x01", b"\x06")))]
    for intents, coinbase in blocks:
        scenario.build(intents, coinbase)
        snapshots.append((chain.head, dict(chain.storage.iterate(b"\x01", b"\x06"))))
    # Code is stored once by its hash and never removed: a later block's code is there too,
    # reachable only through a code hash. Every other key must read as it was.
    keys = {k for _, flat in snapshots for k in flat if k[:1] != b"\x02"}
    keys |= {prefix + a for prefix in (b"\x03", b"\x04", b"\x05") for a in RECIPIENTS}
    for header, flat in snapshots:
        historical = HistoricalStorage(chain.open_root(header.state_root), chain.storage)
        wanted = keys | {k for k in flat if k[:1] == b"\x02"}
        differences = {
            k.hex(): (historical.get(k), flat.get(k))
            for k in wanted
            if historical.get(k) != flat.get(k)
        }
        assert not differences, (header.number, differences)
