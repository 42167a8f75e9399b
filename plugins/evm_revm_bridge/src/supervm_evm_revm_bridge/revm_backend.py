"""The EVM backend on revm (through pyrevm), over the kernel's :class:`WorldState`.

pyrevm 0.3.7 runs revm 8 against its own in-memory database (``CacheDB<EmptyDB>``) and offers
no callback for an account or slot it lacks, so this backend keeps that database in step with
the world state (``docs/evm.md``, "How the bridge works"):

- **A session per chain and block shape.** One pyrevm ``EVM`` per storage (the chain's), chain
  id, block gas limit and coinbase, reused across transactions, blocks and world-state objects,
  with a Python mirror of what its database holds. After a transaction the mirror holds what it
  wrote, so in the steady state nothing is loaded and nothing re-runs. The state of an earlier
  block (which cannot be listed) gets a session of its own, dropped after the transaction.
- **Load, run, check, re-run.** Before a run the sender, the target, the coinbase and the
  access list are brought up to date from the world state. Every transaction runs inside a
  revm checkpoint; afterwards the journal (:mod:`.revm_journal`) names every account and slot
  revm touched, each is read from the world state (so the read set is complete), and if any
  differs from what revm's database held (not loaded yet, or changed since by someone else) it
  is loaded and the transaction re-runs from the checkpoint, until nothing new is touched
  (:data:`MAX_ROUNDS`). The mirror is a cache validated on every use, never trusted.
- **Write back, then forget.** The checkpoint is reverted (so the next transaction starts with
  cold accounts, EIP-2929), and what the run changed is written to the world state, and the
  same values into revm's database, so the next transaction finds them loaded.

pyrevm runs a call without buying gas, bumping the nonce or paying the coinbase
(``message_call``), and a create as a whole transaction but with a base fee of zero
(``deploy``): the payments the engine owes are made here, in Python, by Ethereum's rules
(:meth:`RevmBackend.apply_transaction`). What pyrevm cannot express is listed in
``docs/evm.md`` ("Known differences"): ``BASEFEE`` reads 0, ``BLOCKHASH`` reads revm's
placeholder hashes.

A transaction in which revm touches an account whose code is WebAssembly (an EVM contract
calling a WASM one) is handed whole to the py-evm engine (:mod:`.pyevm_backend`), which
intercepts such calls, re-run from the unchanged world state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

import attrs
from pyrevm import EVM, AccountInfo, CfgEnv, Env, TxEnv
from pyrevm import BlockEnv as RevmBlockEnv
from pyrevm import Log as RevmLog
from supervm.chain.processor import TransactionResult
from supervm.chain.transactions import UnsignedTransaction, blob_base_fee, effective_gas_price
from supervm.crypto import keccak256
from supervm.errors import CallError, ModuleError
from supervm.execution.host import HostFunction
from supervm.execution.interfaces import ExecutionBackend, VMSettings
from supervm.model import (
    BlockEnv,
    ErrorKind,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    Log,
)
from supervm.state.historical import HistoricalStorage
from supervm.state.keys import (
    BALANCE_PREFIX,
    CODE_HASH_PREFIX,
    EMPTY_CODE_HASH,
    NONCE_PREFIX,
    STORAGE_PREFIX,
    storage_prefix,
)
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage
from supervm.state.world import WorldState

from .evm_version import REVM_SPEC_ID
from .revm_journal import Journal, parse_journal

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher

#: Ethereum's precompiled contracts in Cancun: ecrecover (0x01) to point evaluation (0x0a).
PRECOMPILES: Final = frozenset(i.to_bytes(20, "big") for i in range(1, 11))
#: How many times a transaction may re-run for accounts and slots it found missing before the
#: whole storage of every account it touched is loaded at once (then: one more round per
#: newly touched account, up to :data:`MAX_ROUNDS_TOTAL`).
MAX_ROUNDS: Final = 6
MAX_ROUNDS_TOTAL: Final = 64
#: At most this many pyrevm sessions (chains and block shapes) are kept per backend.
MAX_SESSIONS: Final = 4
#: A session whose mirror holds more accounts and slots than this is dropped before the next
#: transaction and started afresh (the mirror is a cache; this bounds its memory).
MAX_MIRRORED: Final = 1_000_000
#: While a session holds at most this many accounts, every run also lists revm's whole
#: database (``EVM.db_accounts``, about 3 us an account) to find accounts revm loaded inside
#: call frames that reverted, which the journal no longer shows.
SMALL_SESSION: Final = 16
#: A contract with at most this many slots has all of them loaded when revm first meets it,
#: so that slots read only inside reverted call frames are right too.
SMALL_STORAGE: Final = 64
_WASM_MAGIC: Final = b"\0asm"
#: What revm's database holds as the code of a WebAssembly contract: STOP, so that a call to
#: it succeeds and revm's journal keeps the account (a frame that fails drops what it loaded,
#: and a failing marker made every later call to a WASM account in a session fail unseen). A
#: transaction that touches one is handed to py-evm whole; its revm result is never used.
_WASM_MARKER: Final = b"\x00"
#: Opcodes whose meaning pyrevm 0.3.7 cannot give: BLOCKHASH (its database answers with
#: placeholder hashes, and pyrevm cannot be given real ones) and BASEFEE (pyrevm zeroes the
#: base fee of every run). Code that contains them runs on py-evm when it is available.
UNSUPPORTED_OPCODES: Final = frozenset({0x40, 0x48})
_PUSH1: Final = 0x60
_PUSH32: Final = 0x7F
_TX_GAS: Final = 21_000
_EMPTY: Final = (0, 0, EMPTY_CODE_HASH)
_ZERO_ADDRESS: Final = bytes(20)
#: Gas limit of the session used by calls without a block environment.
_DEFAULT_GAS_LIMIT: Final = 30_000_000
_REVERT: Final = re.compile(r"Revert \{ gas_used: (\d+), output: 0x([0-9a-fA-F]*) \}")
_HALT: Final = re.compile(r"Halt \{ reason: (.*), gas_used: (\d+) \}")
#: At most this many code hashes are remembered (as WebAssembly or not, as using BLOCKHASH or not).
_CODE_CACHE: Final = 65_536
_PYEVM_FACTORY: Final = "supervm_evm_revm_bridge.pyevm_backend:PyEvmBackend"

Fields = tuple[int, int, bytes]
"""An account's ``(balance, nonce, code_hash)``."""


class RevmError(Exception):
    """pyrevm did something this backend does not expect (a bug here or in the pinned pyrevm)."""


class WasmTouched(Exception):
    """revm touched an account whose code is WebAssembly: the engine cannot run this alone."""


class NeedsListing(Exception):
    """A run needs the whole storage of an account in a state that cannot be listed (an
    earlier block's, read through its tries): the transaction goes to py-evm, which reads
    each slot as the code reads it."""


class _Outcome(NamedTuple):
    """What one pyrevm run reported (a tuple: one is made per run, on the hot path).

    :param output: return data (or revert data).
    :param gas_used: gas after the refund, intrinsic gas included.
    :param gas_refunded: the refund applied (0 unless the run succeeded).
    :param logs: the logs, if the run succeeded.
    :param error: why the run failed (status 0), if it did.
    :param invalid: why revm refused to run the transaction at all, if it did.
    :param created: the address a successful create made.
    """

    output: bytes = b""
    gas_used: int = 0
    gas_refunded: int = 0
    logs: tuple[Log, ...] = ()
    error: ExecutionError | None = None
    invalid: str | None = None
    created: bytes | None = None


def uses_unsupported_opcode(code: bytes) -> bool:
    """Whether ``code`` has one of :data:`UNSUPPORTED_OPCODES` as an instruction (push data
    skipped), whether or not it ever runs."""
    i, n = 0, len(code)
    while i < n:
        op = code[i]
        if op in UNSUPPORTED_OPCODES:
            return True
        if _PUSH1 <= op <= _PUSH32:
            i += op - _PUSH1 + 1
        i += 1
    return False


def _log(log: RevmLog) -> Log:
    topics, data = log.data  # a property that builds the pair anew on each read
    return Log(bytes.fromhex(log.address[2:]), tuple(topics), bytes(data))


def _fields(get: Callable[[bytes], bytes | None], address: bytes) -> Fields:
    """The fields of ``address`` through ``get`` (a world state's ``get``, which records the
    reads, or ``peek``): the flat layout's keys directly, on the hot path."""
    raw_balance = get(BALANCE_PREFIX + address)
    raw_nonce = get(NONCE_PREFIX + address)
    return (
        int.from_bytes(raw_balance, "little") if raw_balance else 0,
        int.from_bytes(raw_nonce, "big") if raw_nonce else 0,
        get(CODE_HASH_PREFIX + address) or EMPTY_CODE_HASH,
    )


def _listable(state: StateOverlay) -> bool:
    """Whether the keys of ``state`` can be listed: not so for the state of an earlier block,
    read through its state root's tries (:class:`HistoricalStorage`: hashed keys, read only)."""
    return not isinstance(state.base, HistoricalStorage)


def _info(balance: int, nonce: int, code_hash: bytes, code: bytes | None = None) -> AccountInfo:
    """pyrevm's ``AccountInfo``; its stub omits ``balance``, which 0.3.7 takes."""
    return AccountInfo(balance=balance, nonce=nonce, code_hash=code_hash, code=code)  # type: ignore[call-arg]


def _hex(address: bytes) -> str:
    return "0x" + address.hex()


def _slot_int(raw: bytes | None) -> int:
    return int.from_bytes(raw, "big") if raw else 0


class _Session:
    """One pyrevm ``EVM`` and the mirror of what its database holds.

    Every value revm's database holds was put there through :meth:`put_account` or
    :meth:`put_slot`, so the mirror says exactly what revm will read; an account or slot the
    mirror lacks reads as empty in revm too (``EmptyDB``).

    :param base: the storage under the world states the session serves (a chain's), or
        ``None`` for a session used once.
    """

    def __init__(
        self, chain_id: int, gas_limit: int, coinbase: bytes, base: Storage | None = None
    ) -> None:
        self.key = (chain_id, gas_limit, coinbase)
        self.coinbase = coinbase
        self.base = base
        self.evm = EVM(
            env=Env(cfg=CfgEnv(chain_id=chain_id), block=RevmBlockEnv(coinbase=_hex(coinbase))),
            gas_limit=gas_limit,
            spec_id=REVM_SPEC_ID,
        )
        self.accounts: dict[bytes, Fields] = {}
        #: Accounts revm's database holds something for that the mirror no longer knows.
        self.forgotten: set[bytes] = set()
        self.slots: dict[bytes, dict[int, int]] = {}
        #: How many slots the mirror holds (with ``accounts``, bounded by MAX_MIRRORED).
        self.slot_count = 0
        #: Code hashes whose code revm's database has (accounts can then be put by hash).
        self.codes: set[bytes] = set()
        #: Accounts revm's database holds with the WASM marker as their code.
        self.wasm_accounts: set[bytes] = set()
        #: revm loads the coinbase into its journal outside any checkpoint at the first run
        #: (EIP-3651's warm coinbase) and keeps it there: from then on it is updated in place.
        self.coinbase_resident = False
        #: Whether a run may have changed the resident coinbase outside the journal (a create
        #: pays it its reward and, if it is the sender, buys the gas so): put it again.
        self.coinbase_dirty = False
        self.block: BlockEnv | None = None
        self.tx_env_set = False
        #: Contracts whose storage was looked at for a whole load (see SMALL_STORAGE).
        self.storage_scanned: set[bytes] = set()
        #: Accounts checked for storage without code (EIP-7610), and those that have it.
        self.collision_checked: set[bytes] = set()
        self.storage_only: set[bytes] = set()

    @property
    def size(self) -> int:
        """How many accounts and slots the mirror holds."""
        return len(self.accounts) + self.slot_count

    def put_account(
        self, address: bytes, fields: Fields, code: Callable[[], bytes] | bytes | None = None
    ) -> bool:
        """Make revm see ``fields`` for ``address``; whether anything had to change.

        :param code: the code (or how to read it) if revm's database may not have it yet.
        """
        current = self.accounts.get(address)
        if current == fields:
            return False
        if current is None and fields == _EMPTY and address not in self.forgotten:
            self.accounts[address] = fields  # revm's EmptyDB reads it so already
            return False
        balance, nonce, code_hash = fields
        if code_hash == EMPTY_CODE_HASH or code_hash in self.codes:
            info = _info(balance, nonce, code_hash)
        else:
            if code is None:
                raise RevmError(f"code of 0x{address.hex()} needed but not given")
            info = _info(balance, nonce, code_hash, code if isinstance(code, bytes) else code())
            self.codes.add(code_hash)
        self.evm.insert_account_info(_hex(address), info)
        self.accounts[address] = fields
        return True

    def put_slot(self, address: bytes, slot: int, value: int) -> bool:
        """Make revm see ``value`` in ``slot`` of ``address``; whether it had to change."""
        slots = self.slots.get(address)
        if slots is None:
            slots = self.slots[address] = {}
        current = slots.get(slot)
        if current == value:
            return False
        if current is None and not value:
            slots[slot] = 0  # revm's database reads it as zero already
            self.slot_count += 1
            return False
        evm = self.evm
        if address == self.coinbase and self.coinbase_resident:
            # Resident in the journal: a store there, outside any checkpoint, stays.
            evm.insert_account_storage(_hex(address), slot, value)
        else:
            # A cold account's slot goes to the database, but pyrevm then loads the account
            # into the journal (warm): undo that at once. (One checkpoint per slot: a second
            # slot put while the account is warm would go to the journal, not the database.)
            checkpoint = evm.snapshot()
            evm.insert_account_storage(_hex(address), slot, value)
            evm.revert(checkpoint)
        if current is None:
            self.slot_count += 1
        slots[slot] = value
        return True

    def clear_slots(self, address: bytes) -> None:
        """Make revm see no storage at ``address`` (a destroyed or re-created account)."""
        for slot, value in list(self.slots.get(address, {}).items()):
            if value:
                self.put_slot(address, slot, 0)

    def forget(self, address: bytes) -> None:
        """Drop what the mirror says of ``address``'s fields (revm's view was altered)."""
        self.accounts.pop(address, None)
        self.forgotten.add(address)


class _Reader:
    """The world state as one transaction reads it: each key once, recorded as a read."""

    def __init__(
        self, state: WorldState, overrides: dict[bytes, Fields], wasm_codes: dict[bytes, bool]
    ) -> None:
        self.state = state
        self.overrides = overrides
        self.fields: dict[bytes, Fields] = {}
        self.slots: dict[tuple[bytes, int], int] = {}
        #: Whether the code of a code hash is WebAssembly (the backend's: a hash names one
        #: code forever).
        self.wasm_codes = wasm_codes
        #: Accounts brought up to date in revm's database during this transaction.
        self.loaded: set[bytes] = set()
        #: Accounts shown to revm with a nonce they lack (see RevmBackend._storage_collision).
        self.storage_only: set[bytes] = set()

    def account(self, address: bytes) -> Fields:
        """What revm must see for ``address`` (the state's fields, or an override)."""
        fields = self.overrides.get(address) or self.fields.get(address)
        if fields is None:
            fields = self.fields[address] = _fields(self.state.get, address)
        return fields

    def state_fields(self, address: bytes) -> Fields:
        """The state's own fields of ``address`` (no override)."""
        fields = self.fields.get(address)
        if fields is None:
            fields = self.fields[address] = _fields(self.state.get, address)
        return fields

    def slot(self, address: bytes, slot: int) -> int:
        key = (address, slot)
        value = self.slots.get(key)
        if value is None:
            raw = self.state.get(STORAGE_PREFIX + address + slot.to_bytes(32, "big"))
            value = self.slots[key] = int.from_bytes(raw, "big") if raw else 0
        return value

    def code(self, code_hash: bytes) -> bytes:
        return self.state.code_by_hash(code_hash) or b""

    def is_wasm(self, code_hash: bytes) -> bool:
        if code_hash == EMPTY_CODE_HASH:
            return False
        cache = self.wasm_codes
        known = cache.get(code_hash)
        if known is None:
            if len(cache) >= _CODE_CACHE:
                cache.clear()
            known = cache[code_hash] = self.code(code_hash)[:4] == _WASM_MAGIC
        return known


class RevmBackend(ExecutionBackend):
    """EVM bytecode on revm 8 (pyrevm 0.3.7), Cancun rules; a :class:`TransactionEngine`."""

    def __init__(self, settings: VMSettings, host_functions: Sequence[HostFunction] = ()) -> None:
        self._settings = settings
        self._host_functions = tuple(host_functions)
        self._sessions: dict[tuple[int, int, int, bytes], _Session] = {}
        self._dispatcher: Dispatcher | None = None
        self._fallback: ExecutionBackend | None = None
        #: How many runs and re-runs the backend made, and how many went to py-evm (for the
        #: docs' measurements and the tests).
        self.stats = {"transactions": 0, "runs": 0, "pyevm": 0, "full_loads": 0}
        self._unsupported: dict[bytes, bool] = {}
        self._wasm_codes: dict[bytes, bool] = {}
        self._code_hashes: dict[bytes, bytes] = {}
        #: The session used last (most transactions in a row use the same one).
        self._last_session: _Session | None = None
        #: The last block environment a message call lifted to its gas, and the result.
        self._lifted: tuple[BlockEnv, int, BlockEnv] | None = None

    # -- ExecutionBackend -------------------------------------------------------------------

    def accepts(self, code: bytes) -> bool:
        """Any code that is not WebAssembly."""
        return bool(code) and code[:4] != _WASM_MAGIC

    def validate(self, code: bytes) -> None:
        """Any non-empty bytes are EVM code (invalid opcodes fail when they run)."""
        if not code:
            raise ModuleError("empty EVM code")
        if code[:4] == _WASM_MAGIC:
            raise ModuleError("WebAssembly code is not EVM code")

    def exports(self, code: bytes) -> frozenset[str]:
        """EVM code has one entry: the call (its ABI dispatch is the contract's own)."""
        self.validate(code)
        return frozenset({"call"})

    def precompiles(self) -> frozenset[bytes]:
        """Ethereum's Cancun precompiles, 0x01 to 0x0a."""
        return PRECOMPILES

    def bind_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Keep the dispatcher, for the py-evm engine this backend hands cross-VM calls to."""
        self._dispatcher = dispatcher

    def close(self) -> None:
        """Drop the pyrevm sessions."""
        self._sessions.clear()
        self._last_session = None
        if self._fallback is not None:
            self._fallback.close()

    # -- sessions ---------------------------------------------------------------------------

    def _session(
        self, chain_id: int, gas_limit: int, coinbase: bytes, state: WorldState
    ) -> _Session:
        """The session for this chain (``state``'s storage) and block shape.

        Sessions outlive world-state objects: a chain's blocks each have their own
        ``WorldState``, over the same storage, and what the mirror holds stays right across
        them (the backend wrote it, and it was committed). Whatever changed it meanwhile (the
        kernel's value transfers, WASM contracts, a block or call that was not committed, a
        rolled back snapshot) is caught by the check after each run, which reads every key the
        run touched from the world state. The state of an earlier block gets a session of its
        own, not kept: it cannot be listed (see :meth:`_listable`) and would only evict the
        head's session.
        """
        base = state.base
        last = self._last_session
        if (
            last is not None
            and last.base is base
            and last.key == (chain_id, gas_limit, coinbase)
            and last.size <= MAX_MIRRORED
        ):
            return last
        if not _listable(state):
            return _Session(chain_id, gas_limit, coinbase)
        key = (id(base), chain_id, gas_limit, coinbase)
        sessions = self._sessions
        session = sessions.pop(key, None)  # re-inserted last: the dict is kept in LRU order
        if session is None or session.base is not base or session.size > MAX_MIRRORED:
            if len(sessions) >= MAX_SESSIONS:
                sessions.pop(next(iter(sessions)))
            session = _Session(chain_id, gas_limit, coinbase, base)
        sessions[key] = session
        self._last_session = session
        return session

    @staticmethod
    def _set_block(session: _Session, env: BlockEnv) -> None:
        block = session.block
        if block is env or block == env:
            return
        session.evm.set_block_env(
            RevmBlockEnv(
                number=env.number,
                coinbase=_hex(env.coinbase),
                timestamp=env.timestamp,
                difficulty=0,
                prevrandao=env.prev_randao,
                basefee=env.base_fee,
                gas_limit=env.gas_limit,
                excess_blob_gas=env.excess_blob_gas or 0,
            )
        )
        session.block = env

    @staticmethod
    def _set_tx(session: _Session, tx: UnsignedTransaction | None) -> None:
        """Give revm the transaction's access list and blobs (what ``message_call`` keeps)."""
        if tx is None or not (tx.access_list or tx.blob_versioned_hashes):
            if session.tx_env_set:
                session.evm.set_tx_env(TxEnv())
                session.tx_env_set = False
            return
        access = [
            (_hex(address), [int.from_bytes(k, "big") for k in keys])
            for address, keys in tx.access_list
        ]
        session.evm.set_tx_env(
            TxEnv(
                access_list=access,
                blob_hashes=list(tx.blob_versioned_hashes),
                max_fee_per_blob_gas=tx.max_fee_per_blob_gas,
            )
        )
        session.tx_env_set = True

    # -- loading ----------------------------------------------------------------------------

    def _load(
        self, session: _Session, reader: _Reader, address: bytes, code: bytes | None = None
    ) -> bool:
        """Bring ``address`` up to date in revm's database; whether it changed.

        :param code: the code revm must run there, if not the state's (a delegate call's).
        """
        fields = reader.account(address)
        if (
            code is None
            and session.accounts.get(address) == fields
            and address not in session.storage_only
        ):
            reader.loaded.add(address)  # the steady state: nothing to do
            return False
        if address in session.storage_only and fields[1] == 0 and fields[2] == EMPTY_CODE_HASH:
            fields = reader.overrides[address] = (fields[0], 1, fields[2])
            reader.storage_only.add(address)
        code_hash = fields[2]
        if code is None and reader.is_wasm(code_hash):
            if session.accounts.get(address) == fields:
                return False
            info = _info(fields[0], fields[1], code_hash, _WASM_MARKER)
            session.codes.add(code_hash)
            session.wasm_accounts.add(address)
            session.evm.insert_account_info(_hex(address), info)
            session.accounts[address] = fields
            return True
        reader.loaded.add(address)
        return session.put_account(
            address, fields, code if code is not None else lambda: reader.code(code_hash)
        )

    @staticmethod
    def _real_code_hash(reader: _Reader, address: bytes) -> bytes:
        """The state's code hash of ``address``, even where revm was shown another."""
        fields = reader.fields.get(address) or reader.account(address)
        return fields[2]

    def _load_all_storage(self, session: _Session, state: WorldState, address: bytes) -> bool:
        """Load every slot ``address`` has in the world state (the fallback of a long search).

        :raises NeedsListing: if the state cannot be listed (an earlier block's).
        """
        if not _listable(state):
            raise NeedsListing(address)
        changed = False
        prefix = storage_prefix(address)
        start = len(prefix)
        for key, value in state.iterate_prefix(prefix):
            changed |= session.put_slot(
                address, int.from_bytes(key[start:], "big"), _slot_int(value)
            )
        return changed

    def _storage_collision(self, session: _Session, reader: _Reader, address: bytes) -> bool:
        """EIP-7610, which revm 8 predates: creating a contract where an account has storage
        (but no code and no nonce) collides. Such an account is shown to revm with nonce 1,
        which makes revm's own collision check refuse the creation; nothing else reads the
        nonce of an account without code. Checked once per session and account (only a
        genesis can leave storage without code; sessions outlive blocks, so this is seldom),
        for every account a run touched (a create that failed leaves its target loaded but
        not created) and those revm loaded in frames that reverted. Whether the run must be
        repeated.

        The state of an earlier block cannot be listed: there the check is not made (an
        ``eth_call`` at an old block that creates where a genesis left storage without code
        succeeds where a transaction would fail; ``docs/evm.md``, "Known differences")."""
        session.collision_checked.add(address)
        fields = reader.account(address)
        if fields[1] or fields[2] != EMPTY_CODE_HASH or not _listable(reader.state):
            return False  # revm sees that collision itself
        if next(iter(reader.state.iterate_prefix(storage_prefix(address))), None) is None:
            return False
        session.storage_only.add(address)
        return self._load(session, reader, address)

    def _scan_storage(self, session: _Session, reader: _Reader, address: bytes) -> bool:
        """Load the whole storage of a contract that has little (see SMALL_STORAGE).

        Skipped where the state cannot be listed (an earlier block's): the scan only makes
        slots read inside call frames that reverted right in a run that succeeded, which is
        what a contract with more than SMALL_STORAGE slots never gets either. (A run that
        failed needs every slot it read, which its journal forgot: that run goes to py-evm,
        see :meth:`_load_all_storage`.)
        """
        session.storage_scanned.add(address)
        if reader.account(address)[2] == EMPTY_CODE_HASH or not _listable(reader.state):
            return False
        prefix = storage_prefix(address)
        start = len(prefix)
        found: list[tuple[int, int]] = []
        for key, raw in reader.state.iterate_prefix(prefix):
            if len(found) == SMALL_STORAGE:
                return False
            found.append((int.from_bytes(key[start:], "big"), _slot_int(raw)))
        changed = False
        for slot, number in found:
            reader.slots[(address, slot)] = number
            changed |= session.put_slot(address, slot, number)
        return changed

    def _check(
        self,
        session: _Session,
        reader: _Reader,
        journal: Journal,
        full: bool,
        loaded_fully: set[bytes],
        exempt_wasm: bytes | None,
    ) -> bool:
        """Read every account and slot the run touched; load what revm lacked. Whether any was
        missing or stale (then the run must be repeated)."""
        changed = False
        if len(session.accounts) <= SMALL_SESSION:
            for text in session.evm.db_accounts:
                address = bytes.fromhex(text[2:])
                if address not in session.accounts and address not in journal.accounts:
                    # Loaded in a frame that reverted: perhaps as a creation's target.
                    changed |= self._load(session, reader, address)
                    changed |= self._scan_storage(session, reader, address)
                    if address not in session.collision_checked:
                        changed |= self._storage_collision(session, reader, address)
        coinbase, loaded, scanned = session.coinbase, reader.loaded, session.storage_scanned
        put_slot, read_slot = session.put_slot, reader.slot
        real_fields = reader.fields
        for address, account in journal.accounts.items():
            # The coinbase is put before every run; what was loaded in this transaction is
            # still what revm's database holds (every run since was reverted).
            if address not in loaded and address != coinbase:
                changed |= self._load(session, reader, address)
            created = account.created
            if not created and address not in scanned:
                changed |= self._scan_storage(session, reader, address)
            fields = real_fields.get(address) or reader.account(address)
            if reader.is_wasm(fields[2]) and (address != exempt_wasm or address in journal.callees):
                raise WasmTouched(address)
            if address not in session.collision_checked:
                changed |= self._storage_collision(session, reader, address)
            if created:
                continue  # a created account reads zeroes, not the database
            if full and address not in loaded_fully:
                loaded_fully.add(address)
                changed |= self._load_all_storage(session, reader.state, address)
            # What revm read first is what its database held: a slot is stale where the world
            # state's value differs from it.
            for slot, (original, _present) in account.storage.items():
                value = read_slot(address, slot)
                if value != original:
                    changed |= put_slot(address, slot, value)
        return changed

    # -- running ----------------------------------------------------------------------------

    def _run(
        self,
        session: _Session,
        reader: _Reader,
        caller: bytes,
        to: bytes | None,
        data: bytes,
        value: int,
        gas: int,
        gas_price: int,
        is_static: bool = False,
    ) -> tuple[_Outcome, Journal]:
        """One run inside a revm checkpoint, reverted before returning."""
        evm = session.evm
        self.stats["runs"] += 1
        if session.coinbase_dirty:
            # A create's reward, and a create's sender that is the coinbase, alter the
            # resident coinbase outside the journal (see _Session): put it again.
            session.forget(session.coinbase)
            session.coinbase_dirty = False
        self._load(session, reader, session.coinbase)
        # A journal checkpoint to revert to, whose depth is given back at once: revm counts
        # the call depth (1024 at most) from the journal's, so the run must start at 0.
        checkpoint = evm.snapshot()
        evm.commit()
        try:
            outcome = self._call_pyrevm(evm, caller, to, data, value, gas, gas_price, is_static)
            journal = parse_journal(evm.journal_str)
        finally:
            # pyrevm reverts only above depth 0. The extra checkpoint's key repeats every run
            # (it is the journal's length), so pyrevm's table of them does not grow.
            evm.snapshot()
            evm.revert(checkpoint)
            session.coinbase_resident = True
            if to is None:
                session.coinbase_dirty = True
        return outcome, journal

    @staticmethod
    def _call_pyrevm(
        evm: EVM,
        caller: bytes,
        to: bytes | None,
        data: bytes,
        value: int,
        gas: int,
        gas_price: int,
        is_static: bool,
    ) -> _Outcome:
        try:
            if to is None:
                created = evm.deploy(_hex(caller), data, value=value, gas=gas, gas_price=gas_price)  # type: ignore[call-arg]
                output = b""
            else:
                output = bytes(
                    evm.message_call(
                        _hex(caller), _hex(to), data, value=value, gas=gas,
                        gas_price=gas_price, is_static=is_static,
                    )
                )  # fmt: skip
                created = None
        except RuntimeError as exc:
            result = evm.result
            message = str(exc)
            if result is None:
                return _Outcome(invalid=message)
            revert = _REVERT.search(message)
            if revert is not None:
                data_hex = revert.group(2)
                return _Outcome(
                    output=bytes.fromhex(data_hex if len(data_hex) % 2 == 0 else "0" + data_hex),
                    gas_used=result.gas_used,
                    error=ExecutionError(ErrorKind.REVERT, "execution reverted"),
                )
            halt = _HALT.search(message)
            reason = halt.group(1) if halt is not None else result.reason
            kind = ErrorKind.OUT_OF_GAS if "OutOfGas" in reason else ErrorKind.TRAP
            return _Outcome(gas_used=result.gas_used, error=ExecutionError(kind, reason))
        result = evm.result
        if result is None:
            raise RevmError("pyrevm returned without a result")
        logs = tuple(_log(log) for log in result.logs) if result.logs else ()
        return _Outcome(
            output=output,
            gas_used=result.gas_used,
            gas_refunded=result.gas_refunded,
            logs=logs,
            created=bytes.fromhex(created[2:]) if created is not None else None,
        )

    def _converge(
        self,
        session: Callable[[], _Session],
        reader: _Reader,
        run: Callable[[], tuple[_Outcome, Journal]],
        exempt_wasm: bytes | None = None,
        *,
        failures_to_pyevm: bool = True,
    ) -> tuple[_Outcome, Journal]:
        """Run until every account and slot revm touched held the world state's value.

        :param session: the session the last run used.
        :param failures_to_pyevm: hand a failed transaction on a lasting session to py-evm.
        """
        loaded_fully: set[bytes] = set()
        for round_number in range(MAX_ROUNDS_TOTAL):
            outcome, journal = run()
            # A failed run reverted its reads out of the journal: what it read is unknown, so
            # the whole storage of every contract it touched is loaded (only on failure).
            full = round_number >= MAX_ROUNDS or outcome.error is not None
            if failures_to_pyevm and outcome.error is not None and session().base is not None:
                # A failed run reverted its reads out of the journal, so the check below cannot
                # tell whether a value revm's lasting database held from earlier transactions
                # was stale (written meanwhile by another engine), nor whether a reverted
                # frame called a WASM account: py-evm, which reads the world state itself,
                # decides the transaction. Failures are the exception on a chain.
                raise NeedsListing
            if full and not loaded_fully:
                self.stats["full_loads"] += 1
            if not self._check(session(), reader, journal, full, loaded_fully, exempt_wasm):
                return outcome, journal
        raise RevmError(
            f"revm kept touching new state after {MAX_ROUNDS_TOTAL} runs of one transaction"
        )

    # -- writing back -----------------------------------------------------------------------

    def _write_back(
        self,
        session: _Session,
        reader: _Reader,
        journal: Journal,
        adjust: dict[bytes, int],
        keep_code: frozenset[bytes] = frozenset(),
        *,
        mirror: bool = True,
    ) -> None:
        """Write what the run changed to the world state and into revm's database.

        Only accounts revm marked touched change; a touched account left empty is deleted by
        writing its fields as empty (EIP-161: the state root leaves empty accounts out).

        :param adjust: wei to add to an account's final balance (what pyrevm's run did not pay
            or paid wrongly: gas bought and refunded here, the coinbase's tip). An account
            revm did not touch, or the coinbase seen without a recorded read, is credited.
        :param keep_code: accounts whose code revm was shown otherwise (a WASM caller, a
            delegate call's code): their code is not written.
        :param mirror: whether revm's database takes the new values too. Not for a
            simulation (``eth_call``), whose changes are dropped: revm's database (and the
            mirror) then keep the values the world state will still hold afterwards.
        """
        state = reader.state
        credited = dict(adjust)
        coinbase, read_fields, mirrored = session.coinbase, reader.fields, session.accounts
        for address, account in journal.accounts.items():
            flags = account.flags
            if address == coinbase and address not in read_fields:
                continue  # seen through peek: paid by a credit below
            if "Touched" not in flags and address not in adjust:
                continue
            credited.pop(address, None)
            before = read_fields.get(address) or reader.state_fields(address)
            created = "Created" in flags
            if created or "SelfDestructed" in flags:
                # Whatever the account had is gone (and EIP-7610's check starts again).
                self._wipe(state, address)
                session.storage_only.discard(address)
                session.collision_checked.discard(address)
                if mirror:
                    session.clear_slots(address)
                if "SelfDestructed" in flags:
                    self._set_fields(state, address, before, _EMPTY, None)
                    if mirror:
                        session.put_account(address, _EMPTY)
                    continue
            code_hash = before[2] if address in keep_code else account.code_hash
            nonce = account.nonce - (address in reader.storage_only)
            after = (account.balance + adjust.get(address, 0), nonce, code_hash)
            code = account.code if created else None
            if after != before:
                self._set_fields(state, address, before, after, code)
            if not mirror or mirrored.get(address) == after:
                pass
            elif code_hash == EMPTY_CODE_HASH or code_hash in session.codes or code:
                session.put_account(address, after, code or b"")
            else:
                session.forget(address)
            storage = account.storage
            if storage:
                prefix = STORAGE_PREFIX + address
                for slot, (original, present) in storage.items():
                    if present != original or created:
                        key = prefix + slot.to_bytes(32, "big")
                        if present:
                            state.set(key, present.to_bytes(32, "big"))
                        else:
                            state.delete(key)
                        if mirror:
                            session.put_slot(address, slot, present)
        for address, amount in credited.items():
            if not amount:
                continue
            if amount > 0:
                state.credit(address, amount)
            else:
                state.debit(address, -amount)
            if mirror:
                session.forget(address)

    @staticmethod
    def _set_fields(
        state: WorldState, address: bytes, before: Fields, after: Fields, code: bytes | None
    ) -> None:
        if after[0] != before[0]:
            state.set_balance(address, after[0])
        if after[1] != before[1]:
            state.set_nonce(address, after[1])
        if after[2] != before[2]:
            state.set_code(address, code or b"")

    @staticmethod
    def _wipe(state: WorldState, address: bytes) -> None:
        """Delete every storage slot of ``address`` (a destroyed or re-created account).

        In a state that cannot be listed (an earlier block's) only the slots written since it
        was opened are deleted: a contract created there had no storage before (else EIP-7610
        refuses the creation), and one destroyed there (Cancun: only in the transaction that
        created it) has none but what was written since.
        """
        if _listable(state):
            keys = [key for key, _value in state.iterate_prefix(storage_prefix(address))]
        else:
            prefix = storage_prefix(address)
            keys = [key for key in state.changes() if key.startswith(prefix)]
        for key in keys:
            state.delete(key)

    # -- transactions -----------------------------------------------------------------------

    def apply_transaction(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        state: WorldState,
        env: BlockEnv,
        *,
        simulate: bool = False,
    ) -> TransactionResult:
        """Apply ``tx`` whole (see :class:`~supervm.chain.processor.TransactionEngine`).

        A call runs with pyrevm's ``message_call`` (which buys no gas and bumps no nonce): the
        sender is shown to revm with the gas already bought and the nonce bumped, and the
        refund and the coinbase's tip are paid after the run. A create runs with ``deploy``
        (a whole transaction, but with a base fee of 0): the coinbase is paid the tip, not
        the whole price. With ``simulate`` the gas price is 0: nothing is bought or paid.

        A simulation may ask for more gas than the block has (``eth_call`` without a gas
        field runs with the node's RPC gas cap): geth allows it, and so does this engine,
        by showing revm a block gas limit of ``max(tx.gas, env.gas_limit)``, which is what
        ``GASLIMIT`` then reads (geth's reads the block's; ``docs/evm.md``, "Gas").
        """
        self.stats["transactions"] += 1
        if simulate and tx.gas > env.gas_limit:
            env = self._lift(env, tx.gas)
        if tx.access_list:
            # revm preloads access-list accounts outside any checkpoint, where they would stay
            # warm (and their slots stale) for later transactions: a session of their own.
            session = _Session(env.chain_id, env.gas_limit, env.coinbase)
        else:
            session = self._session(env.chain_id, env.gas_limit, env.coinbase, state)
        self._set_block(session, env)
        self._set_tx(session, tx)
        price = effective_gas_price(tx, env.base_fee)
        blob_fee = tx.blob_gas * blob_base_fee(env.excess_blob_gas or 0) if tx.blob_gas else 0
        max_blob_fee = tx.blob_gas * (tx.max_fee_per_blob_gas or 0)
        sender_fields = (state.balance(sender), state.nonce(sender), state.code_hash(sender))
        balance, nonce, sender_hash = sender_fields
        create = tx.to is None
        gas_price = 0 if simulate else price
        # What revm sees of the sender, and what its final balance then needs added.
        correction = 0
        if simulate or create:
            view = sender_fields
            if not simulate:
                correction = -blob_fee
        else:
            bought = tx.gas * price + blob_fee
            # message_call buys nothing but checks that the balance covers gas * price + value
            # (+ the blobs' maximum): show the balance after the purchase when it still does.
            if balance - bought >= tx.gas * price + tx.value + max_blob_fee:
                view = (balance - bought, nonce + 1, sender_hash)
            else:  # documented: BALANCE(sender) then reads the balance before the purchase
                view = (balance, nonce + 1, sender_hash)
                correction = -bought
        reader = _Reader(state, {sender: view}, self._wasm_codes)
        reader.fields[sender] = sender_fields
        coinbase = env.coinbase
        named = {sender, *(a for a, _k in tx.access_list)}
        if tx.to is not None:
            named.add(tx.to)
        if coinbase not in named:
            # Read without recording the read: every transaction pays the coinbase, and a
            # recorded read would make them all conflict (parallel schedulers).
            reader.overrides[coinbase] = _fields(state.peek, coinbase)
        current = [session]

        def fresh() -> _Session:
            """A new session holding everything this transaction has read so far."""
            new = _Session(env.chain_id, env.gas_limit, env.coinbase)
            self._set_block(new, env)
            self._set_tx(new, tx)
            for address in {*reader.fields, *reader.overrides}:
                self._load(new, reader, address)
            for (address, slot), value in reader.slots.items():
                new.put_slot(address, slot, value)
            return new

        try:
            for address in named:
                self._load(session, reader, address)
            for address, keys in tx.access_list:
                for key in keys:
                    slot = int.from_bytes(key, "big")
                    session.put_slot(address, slot, reader.slot(address, slot))

            def run() -> tuple[_Outcome, Journal]:
                if tx.access_list and current[0].coinbase_resident:
                    # revm loaded the access list into its journal outside any checkpoint
                    # (EIP-2930's warm accounts), where slots put later would be lost: each
                    # re-run of such a transaction starts from a new session.
                    current[0] = fresh()
                return self._run(
                    current[0], reader, sender, tx.to, tx.data, tx.value, tx.gas, gas_price
                )

            outcome, journal = self._converge(lambda: current[0], reader, run)
            session = current[0]
        except (WasmTouched, NeedsListing):
            return self._to_pyevm(tx, sender, state, env, simulate)
        if self._needs_pyevm(reader, journal, tx.data if create else b""):
            return self._to_pyevm(tx, sender, state, env, simulate)
        if outcome.invalid is not None:
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, outcome.invalid),
                rejected=f"revm refused the transaction: {outcome.invalid}",
            )
        gas_used = outcome.gas_used
        adjust: dict[bytes, int] = {}
        if not simulate:
            if not create:
                correction += (tx.gas - gas_used) * price  # the refund message_call skips
            adjust[sender] = correction
            revm_reward = gas_used * price if create else 0  # deploy paid the whole price
            tip = gas_used * (price - env.base_fee) - revm_reward
            adjust[coinbase] = adjust.get(coinbase, 0) + tip
        self._settle_coinbase(session, reader, journal, adjust)
        self._write_back(session, reader, journal, adjust, mirror=not simulate)
        return TransactionResult(
            return_data=outcome.output,
            logs=outcome.logs if outcome.error is None else (),
            gas_used=gas_used,
            error=outcome.error,
            contract_address=outcome.created if outcome.error is None else None,
            effective_gas_price=price,
        )

    @staticmethod
    def _settle_coinbase(
        session: _Session, reader: _Reader, journal: Journal, adjust: dict[bytes, int]
    ) -> None:
        """How a coinbase revm saw through ``peek`` is paid: if the run only added to its
        balance (or left it alone), one commutative credit of everything; otherwise its
        fields are read for real (recorded) and it is written back like any account."""
        coinbase = session.coinbase
        if coinbase in reader.fields:
            return
        account = journal.accounts.get(coinbase)
        if account is None:
            return
        seen = reader.overrides[coinbase]
        moved = account.balance - seen[0]
        storage_changed = any(o != p for o, p in account.storage.values())
        if (
            moved + adjust.get(coinbase, 0) >= 0
            and not storage_changed
            and (account.nonce, account.code_hash) == seen[1:]
            and not account.destroyed
        ):
            adjust[coinbase] = adjust.get(coinbase, 0) + moved
            return
        del reader.overrides[coinbase]
        reader.state_fields(coinbase)  # now a recorded read; written back with the others

    # -- message calls ----------------------------------------------------------------------

    def execute(
        self,
        code: bytes,
        state: StateOverlay,
        context: ExecutionContext,
        *,
        entry: str = "call",
        args: Sequence[int] = (),
        input: bytes = b"",
    ) -> ExecutionResult:
        """Run one message call (a call from another engine's contract, or a precompile).

        The value is already moved (``call_contract`` did); no intrinsic gas is charged, no
        nonce bumped, no gas bought. ``docs/evm.md`` lists what differs from an EVM frame.
        """
        if not isinstance(state, WorldState):
            raise CallError("the EVM backend runs on a WorldState")
        if args:
            raise CallError("EVM code takes calldata, not integer arguments")
        if entry != "call":
            raise CallError(f"EVM code has one entry point, 'call', not {entry!r}")
        env = context.env
        zeros = input.count(0)
        # message_call charges a transaction's intrinsic gas: give it on top, take it off after.
        intrinsic = _TX_GAS + 4 * zeros + 16 * (len(input) - zeros)
        if env is None:
            gas_limit = max(_DEFAULT_GAS_LIMIT, context.gas_limit + intrinsic)
            block = BlockEnv(
                chain_id=1, number=context.block_number, timestamp=context.timestamp,
                coinbase=_ZERO_ADDRESS, gas_limit=gas_limit,
            )  # fmt: skip
        else:
            block = self._lift(env, context.gas_limit + intrinsic)
        session = self._session(block.chain_id, block.gas_limit, block.coinbase, state)
        self._set_block(session, block)
        self._set_tx(session, None)
        state.snapshot()
        try:
            result = self._execute(session, code, state, context, input, intrinsic)
        except BaseException:
            state.rollback_snapshot()
            raise
        if result.error is None:
            state.commit_snapshot()
        else:
            state.rollback_snapshot()
        return result

    def _execute(
        self,
        session: _Session,
        code: bytes,
        state: WorldState,
        context: ExecutionContext,
        input: bytes,
        intrinsic: int,
    ) -> ExecutionResult:
        address, caller, value = context.address, context.caller, context.value
        reader = _Reader(state, {}, self._wasm_codes)
        caller_fields = reader.state_fields(caller)
        callee_fields = reader.state_fields(address)
        # The value has moved; undo that in revm's view so that revm moves it itself and
        # CALLVALUE reads it (a delegate call shows its caller's value the same way).
        shown = value if value and callee_fields[0] >= value and caller != address else 0
        # revm refuses a caller with code (EIP-3607, a transaction's rule): show it without.
        reader.overrides[caller] = (caller_fields[0] + shown, caller_fields[1], EMPTY_CODE_HASH)
        code_hash = self._code_hash(code) if code else callee_fields[2]
        reader.overrides[address] = (callee_fields[0] - shown, callee_fields[1], code_hash)
        coinbase = session.coinbase
        if coinbase not in (caller, address):
            reader.overrides[coinbase] = _fields(state.peek, coinbase)
        caller_is_wasm = reader.is_wasm(caller_fields[2])
        try:
            self._load(session, reader, caller)
            self._load(session, reader, address, code or None)

            def run() -> tuple[_Outcome, Journal]:
                return self._run(
                    session, reader, caller, address, input, shown,
                    context.gas_limit + intrinsic, 0, context.static,
                )  # fmt: skip

            outcome, journal = self._converge(
                lambda: session,
                reader,
                run,
                exempt_wasm=caller if caller_is_wasm else None,
                failures_to_pyevm=False,  # a message call: its failure is its caller's to see
            )
        except (WasmTouched, NeedsListing):
            session.forget(caller)
            session.forget(address)
            fallback = self._pyevm()
            if fallback is None:
                return ExecutionResult(
                    gas_used=context.gas_limit,
                    error=ExecutionError(ErrorKind.INVALID_CALL, _NO_PYEVM),
                )
            self.stats["pyevm"] += 1
            return fallback.execute(code, state, context, input=input)
        # (revm's database holds the fields revm was shown for these two, and the mirror says
        # so: the next use puts the state's own fields again where they differ.)
        if self._needs_pyevm(reader, journal, b""):
            fallback = self._pyevm()
            assert fallback is not None
            self.stats["pyevm"] += 1
            return fallback.execute(code, state, context, input=input)
        if outcome.invalid is not None:
            return ExecutionResult(error=ExecutionError(ErrorKind.INVALID_CALL, outcome.invalid))
        # A message's gas is what it spent: refunds belong to the transaction (not passed on).
        spent = outcome.gas_used + outcome.gas_refunded - intrinsic
        if outcome.error is not None:
            if outcome.error.kind != ErrorKind.REVERT:
                spent = context.gas_limit
            return ExecutionResult(return_data=outcome.output, gas_used=spent, error=outcome.error)
        for who in (caller, address):
            del reader.overrides[who]
        adjust: dict[bytes, int] = {}
        if coinbase in reader.overrides:
            self._settle_coinbase(session, reader, journal, adjust)
        self._write_back(session, reader, journal, adjust, keep_code=frozenset({caller, address}))
        return ExecutionResult(return_data=outcome.output, logs=outcome.logs, gas_used=spent)

    def _lift(self, env: BlockEnv, gas: int) -> BlockEnv:
        """``env`` with a gas limit of at least ``gas`` (the last answer is kept: a block's
        calls all ask the same)."""
        if env.gas_limit >= gas:
            return env
        last = self._lifted
        if last is not None and last[0] is env and last[1] == gas:
            return last[2]
        lifted = attrs.evolve(env, gas_limit=gas)
        self._lifted = (env, gas, lifted)
        return lifted

    def _code_hash(self, code: bytes) -> bytes:
        """``keccak256(code)``, remembered (a call from another engine passes the code)."""
        found = self._code_hashes.get(code)
        if found is None:
            if len(self._code_hashes) > 1024:
                self._code_hashes.clear()
            found = self._code_hashes[code] = keccak256(code)
        return found

    def _needs_pyevm(self, reader: _Reader, journal: Journal, init_code: bytes) -> bool:
        """Whether the run met code with an opcode pyrevm cannot give its meaning (and py-evm
        is there to run the transaction instead)."""
        if init_code and uses_unsupported_opcode(init_code):
            return self._pyevm() is not None
        cache = self._unsupported
        for address in journal.accounts:
            code_hash = self._real_code_hash(reader, address)
            if code_hash == EMPTY_CODE_HASH:
                continue
            found = cache.get(code_hash)
            if found is None:
                found = cache[code_hash] = uses_unsupported_opcode(reader.code(code_hash))
            if found:
                return self._pyevm() is not None
        return False

    # -- py-evm -----------------------------------------------------------------------------

    def _pyevm(self) -> ExecutionBackend | None:
        """The py-evm engine (built once), or ``None`` if its module is not there."""
        if self._fallback is None:
            try:
                from . import pyevm_backend  # type: ignore[attr-defined, unused-ignore]
            except ImportError:
                return None
            backend: ExecutionBackend = pyevm_backend.PyEvmBackend(
                self._settings, self._host_functions
            )
            if self._dispatcher is not None:
                backend.bind_dispatcher(self._dispatcher)
            self._fallback = backend
        return self._fallback

    def _to_pyevm(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        state: WorldState,
        env: BlockEnv,
        simulate: bool,
    ) -> TransactionResult:
        fallback = self._pyevm()
        if fallback is None:
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, _NO_PYEVM), rejected=_NO_PYEVM
            )
        self.stats["pyevm"] += 1
        apply = fallback.apply_transaction  # type: ignore[attr-defined]
        result: TransactionResult = apply(tx, sender, state, env, simulate=simulate)
        return result


_NO_PYEVM: Final = (
    "an EVM contract calls a WebAssembly contract, which revm cannot run; that needs the py-evm "
    f"engine ({_PYEVM_FACTORY}), which is not available"
)


__all__ = ["PRECOMPILES", "RevmBackend", "RevmError"]
