"""Running Ethereum's BlockchainTests through the chain core and an EVM engine.

A test (format: ``shared/conformance/README.md``) gives a genesis (``pre`` and
``genesisBlockHeader``), blocks as RLP, and the state after them (``postState``,
``lastblockhash``). Each test runs on a fresh in-memory chain:

1. The genesis state and header are built through the chain core's public pieces
   (:func:`~supervm.chain.chain.genesis_block`, then the test's own Cancun header fields, which
   :meth:`Chain.initialise` does not take) and must hash to the test's genesis hash.
2. Every block is imported with :meth:`Chain.import_block`, consensus engine ``ethereum``
   (:mod:`.consensus`); a block with ``expectException`` must be refused, any other accepted.
3. The state is compared with ``postState`` account by account (balance, nonce, code, every
   storage slot, and no account the test does not list), and the head with ``lastblockhash``.

A failure names the first difference. When a valid block is refused for its state root or
gas, its transactions are executed again on the parent state and that state compared with
``postState``, so the report names the account and field rather than only the root.
Only tests of the :data:`~.evm_version.TEST_NETWORK` network count; others are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
from supervm.chain.blocks import Block, BlockHeader, decode_block
from supervm.chain.chain import Chain, genesis_block
from supervm.chain.genesis import ConsensusConfig, Genesis, GenesisAccount
from supervm.chain.pipeline import env_for, execute
from supervm.chain.store import CONFIG_KEY, ChainStore
from supervm.errors import SuperVMError
from supervm.kernel import Kernel
from supervm.state.commitment import TRIE_NODE_PREFIX
from supervm.state.keys import (
    BALANCE_PREFIX,
    CODE_HASH_PREFIX,
    NONCE_PREFIX,
    STORAGE_PREFIX,
)
from supervm.state.storage import Storage
from supervm.state.world import WorldState

from .evm_version import TEST_NETWORK

#: The chain id every BlockchainTest uses.
TEST_CHAIN_ID: Final = 1
#: The consensus engine the tests' chains run.
ENGINE: Final = "ethereum"
_ACCOUNT_PREFIXES: Final = (NONCE_PREFIX, BALANCE_PREFIX, CODE_HASH_PREFIX, STORAGE_PREFIX)


class BlocktestError(SuperVMError):
    """A BlockchainTests file that cannot be read (not JSON, not the format)."""


@attrs.frozen
class Failure:
    """One test that failed: its name and the first difference.

    :param name: the test's name.
    :param field: what differs (``postState 0x.. balance``, ``block 1``, ``lastblockhash``).
    :param expected: what the test says.
    :param got: what SuperVM produced.
    :param detail: more, such as the import error of a refused block.
    """

    name: str
    field: str
    expected: str = ""
    got: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        """The failure as the ``--json`` output lists it."""
        return {k: v for k, v in attrs.asdict(self).items() if v}


@attrs.frozen
class Report:
    """The outcome of a run.

    :param passed: how many tests passed.
    :param failures: the tests that failed.
    :param skipped: tests of other networks.
    """

    passed: int
    failures: tuple[Failure, ...]
    skipped: int = 0

    @property
    def failed(self) -> int:
        """How many tests failed."""
        return len(self.failures)

    def as_json(self) -> dict[str, Any]:
        """The one ``--json`` line."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "failures": [f.as_json() for f in self.failures],
        }


def test_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON files ``paths`` name, directories walked, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise BlocktestError(f"{path}: no such file or directory")
    return files


def load_tests(path: Path) -> dict[str, dict[str, Any]]:
    """The tests of one file, by name."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise BlocktestError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BlocktestError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise BlocktestError(f"{path}: not a BlockchainTests file (an object of tests)")
    return data


def _int(text: str) -> int:
    return int(text, 16)


def _bytes(text: str) -> bytes:
    body = text[2:] if text[:2] in ("0x", "0X") else text
    return bytes.fromhex(body if len(body) % 2 == 0 else "0" + body)


def _word(text: str) -> bytes:
    return _int(text).to_bytes(32, "big")


def _genesis(test: Mapping[str, Any]) -> Genesis:
    header = test["genesisBlockHeader"]
    alloc = {
        _bytes(address): GenesisAccount(
            balance=_int(account.get("balance", "0x0")),
            nonce=_int(account.get("nonce", "0x0")),
            code=_bytes(account.get("code", "0x")),
            storage={_word(k): _word(v) for k, v in account.get("storage", {}).items() if _int(v)},
        )
        for address, account in test["pre"].items()
    }
    return Genesis(
        chain_id=TEST_CHAIN_ID,
        gas_limit=_int(header["gasLimit"]),
        base_fee=_int(header.get("baseFeePerGas", "0x0")),
        timestamp=_int(header["timestamp"]),
        extra_data=_bytes(header["extraData"]),
        difficulty=_int(header["difficulty"]),
        mix_hash=_bytes(header["mixHash"]),
        coinbase=_bytes(header["coinbase"]),
        nonce=_bytes(header["nonce"]),
        alloc=alloc,
        consensus=ConsensusConfig(ENGINE),
    )


def _config(genesis: Genesis) -> bytes:
    """The genesis file stored with the chain (the chain reads its consensus section)."""
    return json.dumps(
        {"config": {"chainId": genesis.chain_id}, "supervm": {"consensus": {"engine": ENGINE}}}
    ).encode()


def build_chain(kernel: Kernel, test: Mapping[str, Any]) -> tuple[Chain | None, Failure | None]:
    """A chain at the test's genesis on a fresh memory storage, or why it cannot be built.

    :meth:`Chain.initialise` gives the genesis header the Cancun fields of a SuperVM chain
    (zero excess blob gas); a test's genesis has its own, so the genesis is written here the
    way ``initialise`` writes it, with the header completed from the test.
    """
    genesis = _genesis(test)
    raw = test["genesisBlockHeader"]
    storage = kernel.open_storage("memory")
    header, state, nodes = genesis_block(genesis, storage)
    header = attrs.evolve(
        header,
        withdrawals_root=_bytes(raw["withdrawalsRoot"]) if "withdrawalsRoot" in raw else None,
        blob_gas_used=_int(raw["blobGasUsed"]) if "blobGasUsed" in raw else None,
        excess_blob_gas=_int(raw["excessBlobGas"]) if "excessBlobGas" in raw else None,
        parent_beacon_block_root=(
            _bytes(raw["parentBeaconBlockRoot"]) if "parentBeaconBlockRoot" in raw else None
        ),
    )
    expected_root = _bytes(raw["stateRoot"])
    if header.state_root != expected_root:
        return None, Failure(
            "", "genesis state root", f"0x{expected_root.hex()}", f"0x{header.state_root.hex()}"
        )
    expected_hash = _bytes(raw["hash"])
    if header.hash != expected_hash:
        return None, Failure(
            "", "genesis hash", f"0x{expected_hash.hex()}", f"0x{header.hash.hex()}"
        )
    store = ChainStore(storage)
    batch = state.resolved_changes()
    batch += [(TRIE_NODE_PREFIX + h, node) for h, node in nodes.items()]
    batch += store.block_changes(Block(header, withdrawals=()), ())
    batch.append((CONFIG_KEY, _config(genesis)))
    storage.write_batch(batch)
    return Chain(kernel, storage, chain_id=TEST_CHAIN_ID), None


def _accounts(storage: Storage | WorldState) -> dict[bytes, dict[str, Any]]:
    """Every account in a state: balance, nonce, code hash and storage slots."""
    accounts: dict[bytes, dict[str, Any]] = {}
    for key, value in storage.iterate(STORAGE_PREFIX, bytes([CODE_HASH_PREFIX[0] + 1])):
        prefix, address = key[:1], key[1:21]
        if prefix not in _ACCOUNT_PREFIXES:
            continue
        account = accounts.setdefault(address, {"storage": {}})
        if prefix == STORAGE_PREFIX:
            slot = int.from_bytes(key[21:], "big")
            number = int.from_bytes(value, "big")
            if number:
                account["storage"][slot] = number
        elif prefix == NONCE_PREFIX:
            account["nonce"] = int.from_bytes(value, "big")
        elif prefix == BALANCE_PREFIX:
            account["balance"] = int.from_bytes(value, "little")
        else:
            account["code_hash"] = value
    return accounts


def compare_state(
    state: WorldState, post: Mapping[str, Mapping[str, Any]]
) -> tuple[str, str, str] | None:
    """The first difference between ``state`` and a test's ``postState``: ``(field, expected,
    got)``, or ``None`` if they agree."""
    actual = _accounts(state)
    for address_text, expected in sorted(post.items()):
        address = _bytes(address_text)
        where = f"postState {address_text.lower()}"
        got = actual.pop(address, {"storage": {}})
        balance, nonce = got.get("balance", 0), got.get("nonce", 0)
        if balance != _int(expected.get("balance", "0x0")):
            return f"{where} balance", str(_int(expected["balance"])), str(balance)
        if nonce != _int(expected.get("nonce", "0x0")):
            return f"{where} nonce", str(_int(expected["nonce"])), str(nonce)
        code = state.code(address)
        if code != _bytes(expected.get("code", "0x")):
            return f"{where} code", expected.get("code", "0x"), "0x" + code.hex()
        want = {_int(k): _int(v) for k, v in expected.get("storage", {}).items() if _int(v)}
        have: dict[int, int] = got["storage"]
        for slot in sorted(set(want) | set(have)):
            if want.get(slot, 0) != have.get(slot, 0):
                return (
                    f"{where} storage[{hex(slot)}]",
                    hex(want.get(slot, 0)),
                    hex(have.get(slot, 0)),
                )
    for address, got in sorted(actual.items()):
        if got.get("balance") or got.get("nonce") or got.get("code_hash") or got["storage"]:
            return f"postState 0x{address.hex()}", "no account", "an account"
    return None


def _diagnose(
    kernel: Kernel, chain: Chain, raw: bytes, post: Mapping[str, Mapping[str, Any]]
) -> tuple[str, str, str] | None:
    """Execute a refused block's transactions on the head state and compare with ``post``."""
    try:
        block = decode_block(raw, chain_id=chain.chain_id)
    except SuperVMError:
        return None
    header: BlockHeader = block.header
    env = env_for(header, chain.chain_id, chain.store)
    root = chain.open_root(chain.head.state_root)
    executed = execute(
        kernel, chain.storage, root, chain.scheduler, header, env, list(block.transactions)
    )
    return compare_state(executed.state, post)


def run_test(kernel: Kernel, name: str, test: Mapping[str, Any]) -> Failure | None:
    """Run one test; the failure, or ``None`` if it passed."""
    chain, failure = build_chain(kernel, test)
    if chain is None:
        assert failure is not None
        return attrs.evolve(failure, name=name)
    try:
        blocks = test.get("blocks", [])
        for index, block in enumerate(blocks):
            raw = _bytes(block["rlp"])
            expected_error = block.get("expectException")
            try:
                chain.import_block(raw)
            except SuperVMError as exc:
                if expected_error:
                    continue
                detail = str(exc)
                found = (
                    _diagnose(kernel, chain, raw, test["postState"])
                    if index == len(blocks) - 1
                    else None
                )
                if found is not None:
                    return Failure(name, found[0], found[1], found[2], detail=detail)
                return Failure(name, f"block {index + 1}", "accepted", "refused", detail=detail)
            if expected_error:
                return Failure(
                    name, f"block {index + 1}", f"refused ({expected_error})", "accepted"
                )
        found = compare_state(chain.state(), test.get("postState", {}))
        if found is not None:
            return Failure(name, *found)
        last = _bytes(test["lastblockhash"])
        if chain.head.hash != last:
            return Failure(name, "lastblockhash", f"0x{last.hex()}", f"0x{chain.head.hash.hex()}")
    finally:
        chain.close()
    return None


def select_engine(kernel: Kernel, engine: str) -> None:
    """Make the chain core run ``engine`` for EVM code: the block pipeline builds its backends
    with the kernel's default :attr:`~supervm.kernel.Kernel.vm_settings`."""
    options = {**kernel.vm_settings.options, "evm": engine}
    kernel.vm_settings = attrs.evolve(kernel.vm_settings, options=options)


def iter_tests(files: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """``(name, test)`` for every test of the files; ``test`` is ``None`` for another network."""
    for path in files:
        for name, test in load_tests(path).items():
            yield name, (test if test.get("network") == TEST_NETWORK else None)


def run(kernel: Kernel, paths: Iterable[Path], *, engine: str = "pyrevm") -> Report:
    """Run every test in ``paths`` (files or directories) with ``engine``."""
    select_engine(kernel, engine)
    passed = skipped = 0
    failures: list[Failure] = []
    for name, test in iter_tests(test_files(paths)):
        if test is None:
            skipped += 1
            continue
        try:
            failure = run_test(kernel, name, test)
        except (KeyError, TypeError, ValueError) as exc:
            failure = Failure(name, "test file", detail=f"malformed test or a crash: {exc!r}")
        except Exception as exc:  # one test's crash must not end the run
            failure = Failure(name, "crash", detail=f"{type(exc).__name__}: {exc}")
        if failure is None:
            passed += 1
        else:
            failures.append(failure)
    return Report(passed, tuple(failures), skipped)


__all__ = [
    "BlocktestError",
    "Failure",
    "Report",
    "build_chain",
    "compare_state",
    "run",
    "run_test",
    "select_engine",
    "test_files",
]
