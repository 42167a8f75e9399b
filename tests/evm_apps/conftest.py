"""Real Ethereum applications against ``supervm node --dev``: one node and one compile per session.

The node is the real ``supervm node --dev`` process (the EVM backend runs the Solidity code),
reached only through JSON-RPC; every transaction is signed locally with eth-account and sent with
``eth_sendRawTransaction``, as a wallet does. The Solidity sources in ``contracts/`` are compiled
once, by SuperVM's Solidity plugin (solc-js, evmVersion cancun), while the node starts.

``SUPERVM_EVM_APPS_RPC_URL=http://127.0.0.1:PORT/`` runs the same tests against a node someone
else started (``npx hardhat node``, anvil, geth --dev with the same mnemonic and chain id
31337) instead: that is how the tests themselves are checked against a reference EVM.

``SUPERVM_EVM_APPS_NODE_ARGS="..."`` passes more options to the ``supervm node`` it starts.

Tests read balances relative to what they found, so they do not depend on their order or on
the modules before them. Each application signs with its own dev accounts (see each module's
docstring; the Uniswap modules share 4 and 5, the two marketplaces 6 to 8), and every
transaction takes its nonce from ``pending``, so a failure in one leaves the others alone.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from supervm import Artifact, Kernel
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm.tooling.compilers import CompileSettings
from supervm_rpc.testing import NodeProcess
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3RPCError,
)
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt, Wei

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONTRACTS = HERE / "contracts"
NODE_MODULES = REPO_ROOT / "node_modules"
CHAIN_ID = 31337
EXTERNAL_URL_VAR = "SUPERVM_EVM_APPS_RPC_URL"
#: More ``supervm node`` options for the node the session starts (a different engine, say).
NODE_ARGS_VAR = "SUPERVM_EVM_APPS_NODE_ARGS"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 15.0
RECEIPT_TIMEOUT = 60.0
#: ``Error(string)`` and ``Panic(uint256)``: the two revert encodings Solidity itself defines.
ERROR_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")


@attrs.frozen
class EvmNode:
    """A node the tests talk to.

    :param url: its HTTP JSON-RPC endpoint.
    :param log: the file its log goes to (``None`` for an external node).
    :param external: whether someone else started it (``SUPERVM_EVM_APPS_RPC_URL``).
    """

    url: str
    log: Path | None
    external: bool


def _tail(path: Path | None, limit: int = 4000) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return path.read_text(errors="replace")[-limit:] or "(empty)"


def _supervm() -> Path:
    path = Path(sys.executable).with_name("supervm")
    if not path.exists():
        pytest.fail(f"no supervm command next to {sys.executable}: run `make install`")
    return path


def compile_solidity(sources: Sequence[Path], *, optimize: bool = True) -> dict[str, Artifact]:
    """``sources`` compiled in one solc run by the Solidity plugin: contract name -> artifact."""
    with Kernel.from_plugins() as kernel:
        entry = kernel.compilers().for_path(sources[0])
        assert entry is not None, "the Solidity compiler plugin (supervm-compiler-solidity) is off"
        settings = CompileSettings(optimize=optimize, node_modules=NODE_MODULES)
        artifacts = entry.value.compile(list(sources), settings)
    return {a.name: a for a in artifacts}


@attrs.frozen
class _Started:
    node: EvmNode
    artifacts: Mapping[str, Artifact]


@pytest.fixture(scope="session")
def _started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Started]:
    """Start the node, then compile while it starts (both take seconds)."""
    sources = sorted(CONTRACTS.glob("*.sol"))
    external = os.environ.get(EXTERNAL_URL_VAR)
    if external:
        yield _Started(EvmNode(external, None, True), compile_solidity(sources))
        return
    work = tmp_path_factory.mktemp("evm-apps-node")
    argv = [str(_supervm()), "node", "--dev", "--rpc-port", "0", "--data-dir", str(work / "data")]
    node = NodeProcess([*argv, *shlex.split(os.environ.get(NODE_ARGS_VAR, ""))], work)
    try:
        artifacts = compile_solidity(sources)
        url = node.wait_until_serving(_START_TIMEOUT)
    except BaseException:
        node.kill()
        raise
    try:
        yield _Started(EvmNode(url, node.stderr_path, False), artifacts)
    finally:
        node.stop(_STOP_TIMEOUT)


@pytest.fixture(scope="session")
def evm_node(_started: _Started) -> EvmNode:
    """The node under test (``supervm node --dev`` unless ``SUPERVM_EVM_APPS_RPC_URL`` is set)."""
    return _started.node


@pytest.fixture(scope="session")
def sol(_started: _Started) -> Mapping[str, Artifact]:
    """``contracts/*.sol`` compiled by the Solidity plugin (optimised): name -> artifact."""
    return _started.artifacts


@pytest.fixture(scope="session")
def accounts() -> list[DevAccount]:
    """The ten funded dev accounts (the Hardhat/anvil mnemonic)."""
    return dev_accounts()


@attrs.frozen
class Revert:
    """A decoded revert.

    :param name: the custom error's name, ``Error`` for ``Error(string)``, ``Panic`` for
        ``Panic(uint256)``.
    :param args: its arguments, in order (addresses checksummed).
    :param data: the raw revert data.
    """

    name: str
    args: tuple[Any, ...]
    data: bytes


def _error_table(abis: Sequence[Sequence[Mapping[str, Any]]]) -> dict[bytes, Mapping[str, Any]]:
    table: dict[bytes, Mapping[str, Any]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                table[function_abi_to_4byte_selector(item)] = item
    return table


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def decode_revert(data: bytes, abis: Sequence[Sequence[Mapping[str, Any]]]) -> Revert:
    """``data`` decoded as ``Error(string)``, ``Panic(uint256)`` or a custom error of ``abis``."""
    selector, body = data[:4], data[4:]
    if selector == ERROR_SELECTOR:
        return Revert("Error", tuple(abi_decode(["string"], body)), data)
    if selector == PANIC_SELECTOR:
        return Revert("Panic", tuple(abi_decode(["uint256"], body)), data)
    item = _error_table(abis).get(selector)
    if item is None:
        raise AssertionError(f"revert data {data.hex()} matches no known error")
    types = [_abi_type(p) for p in item["inputs"]]
    values = tuple(
        to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, abi_decode(types, body), strict=True)
    )
    return Revert(str(item["name"]), values, data)


def revert_data(exc: ContractLogicError) -> bytes:
    """The revert data web3.py raised ``exc`` with (a hex string, or the error object's field)."""
    data: Any = exc.data
    if isinstance(data, dict):  # some nodes' estimateGas errors reach web3.py as the object
        data = data.get("data")
    assert isinstance(data, str) and data.startswith("0x"), f"no revert data: {exc!r}"
    return bytes.fromhex(data[2:])


def address(account: DevAccount) -> ChecksumAddress:
    """A dev account's checksummed address."""
    return to_checksum_address(account.address)


def _padded(estimate: int, block_gas_limit: int) -> int:
    """A gas limit for an estimate, with a margin (as Uniswap's interface adds one): the
    estimate runs in the pending block's context, and a contract's path may depend on the block
    it lands in. Uniswap V2's pair stores its two price accumulators, from zero the first time
    (2 x 22,100 gas), only when the timestamp moved since its last update."""
    return min(estimate + estimate // 4 + 50_000, block_gas_limit)


def events(contract: Contract, name: str, receipt: TxReceipt) -> list[dict[str, Any]]:
    """The ``name`` events ``contract`` itself emitted in ``receipt``: their args, in order."""
    processed = getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
    return [dict(e["args"]) for e in processed if e["address"] == contract.address]


class Eth:
    """web3.py, used as an application does: build, sign locally, send raw, wait.

    :param w3: web3.py over HTTP, without middleware.
    :param error_abis: ABIs whose custom errors :meth:`revert` decodes.
    """

    def __init__(self, w3: Web3, error_abis: Sequence[Sequence[Mapping[str, Any]]]) -> None:
        self.w3 = w3
        self.error_abis = list(error_abis)

    def _gas_limit(self) -> int:
        return int(self.w3.eth.get_block("latest")["gasLimit"])

    def _base(self, sender: DevAccount, value: int, gas: int | None) -> TxParams:
        params: TxParams = {
            "from": address(sender),
            "nonce": self.w3.eth.get_transaction_count(address(sender), "pending"),
            "chainId": CHAIN_ID,
            "value": Wei(value),
        }
        if gas is not None:
            params["gas"] = gas
        return params

    def sign_and_send(self, tx: TxParams, sender: DevAccount) -> TxReceipt:
        """Sign ``tx`` with ``sender``'s key, send it raw, wait for its receipt."""
        signed = Account.sign_transaction(dict(tx), sender.private_key)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            # Hardhat's automining node (a reference node, SUPERVM_EVM_APPS_RPC_URL) mines a
            # failing transaction and then answers the send with its revert; SuperVM and geth
            # accept it and report the failure in the receipt, which is what is checked here.
            if "txHash" not in str(exc):
                raise
        else:
            assert HexBytes(tx_hash) == HexBytes(signed.hash)
        return self.w3.eth.wait_for_transaction_receipt(
            signed.hash, timeout=RECEIPT_TIMEOUT, poll_latency=0.05
        )

    def deploy(
        self,
        abi: Sequence[Mapping[str, Any]],
        bytecode: bytes | str,
        *args: Any,
        sender: DevAccount,
        value: int = 0,
        gas: int | None = None,
    ) -> Contract:
        """Deploy with a signed create transaction (gas estimated unless given); the contract."""
        factory = self.w3.eth.contract(abi=list(abi), bytecode=bytecode)
        constructor = factory.constructor(*args)
        params = self._base(sender, value, gas)
        if gas is None:
            params["gas"] = _padded(constructor.estimate_gas(params), self._gas_limit())
        tx = constructor.build_transaction(params)
        receipt = self.sign_and_send(tx, sender)
        assert receipt["status"] == 1, f"deployment failed: {dict(receipt)}"
        created = receipt["contractAddress"]
        assert created is not None
        assert self.w3.eth.get_code(created), "the create left no code"
        return self.w3.eth.contract(address=created, abi=list(abi))

    def deploy_artifact(self, artifact: Artifact, *args: Any, sender: DevAccount) -> Contract:
        """Deploy a SuperVM artifact (``supervm compile``'s output)."""
        assert artifact.kind == "evm"
        return self.deploy(artifact.abi, artifact.bytecode, *args, sender=sender)

    def send(
        self,
        call: ContractFunction,
        sender: DevAccount,
        *,
        value: int = 0,
        gas: int | None = None,
        expect_status: int = 1,
    ) -> TxReceipt:
        """``call`` as a signed transaction from ``sender``; its receipt (its status checked)."""
        params = self._base(sender, value, gas)
        if gas is None:
            params["gas"] = _padded(call.estimate_gas(params), self._gas_limit())
        tx = call.build_transaction(params)
        receipt = self.sign_and_send(tx, sender)
        assert receipt["status"] == expect_status, (
            f"{call.fn_name} from {sender.checksum_address}: status {receipt['status']}, "
            f"expected {expect_status}: {dict(receipt)}"
        )
        return receipt

    def revert(self, call: ContractFunction, sender: DevAccount, *, value: int = 0) -> Revert:
        """What ``call`` reverts with under ``eth_call`` (it must revert); decoded."""
        params: TxParams = {"from": address(sender), "value": Wei(value)}
        try:
            result = call.call(params)
        except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
            return decode_revert(revert_data(exc), self.error_abis)
        raise AssertionError(f"{call.fn_name} returned {result!r}; expected a revert")

    def estimate_revert(
        self, call: ContractFunction, sender: DevAccount, *, value: int = 0
    ) -> Revert:
        """What ``eth_estimateGas`` reports for ``call`` (it must revert): wallets see this."""
        params: TxParams = {"from": address(sender), "value": Wei(value)}
        try:
            gas = call.estimate_gas(params)
        except (ContractCustomError, ContractPanicError, ContractLogicError) as exc:
            return decode_revert(revert_data(exc), self.error_abis)
        raise AssertionError(f"{call.fn_name} estimated {gas} gas; expected a revert")

    def balance(self, who: str) -> int:
        """ETH balance in wei, at the head."""
        return self.w3.eth.get_balance(to_checksum_address(who))

    def fee(self, receipt: TxReceipt) -> int:
        """What ``receipt``'s transaction cost its sender in gas fees, in wei."""
        return receipt["gasUsed"] * receipt["effectiveGasPrice"]


@pytest.fixture(scope="session")
def w3(evm_node: EvmNode) -> Web3:
    """web3.py over HTTP, no middleware."""
    web3 = Web3(Web3.HTTPProvider(evm_node.url, request_kwargs={"timeout": 60}))
    assert web3.is_connected()
    assert web3.eth.chain_id == CHAIN_ID
    return web3


@pytest.fixture(scope="session")
def eth(w3: Web3, sol: Mapping[str, Artifact]) -> Eth:
    """The application-side helper, decoding the custom errors of every compiled contract."""
    return Eth(w3, [a.abi for a in sol.values()])


#: A node log tail for assertion messages.
NodeLog = Callable[[], str]


@pytest.fixture(scope="session")
def node_log(evm_node: EvmNode) -> NodeLog:
    """The end of the node's log, for failure messages."""
    return lambda: _tail(evm_node.log, 3000)
