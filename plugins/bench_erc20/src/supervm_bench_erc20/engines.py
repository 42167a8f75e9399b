"""The three ERC20 engines the benchmark drives with the same transfers.

Each engine deploys the token from its artifact with the same constructor arguments, funds the
accounts from the deployer, then executes a list of pre-built transfers. ``balance_of`` lets
the benchmark check that all engines end in the same state.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import attrs
from eth_abi.abi import decode, encode
from supervm import Artifact, Call, Contract, ExecutionContext, Kernel, StateOverlay, VMSettings
from supervm.tooling.abi import selector

TRANSFER = selector("transfer(address,uint256)")
BALANCE_OF = selector("balanceOf(address)")
NAME, SYMBOL = "Bench Token", "BNCH"
SUPPLY = 10**30
GAS = 1_000_000


@attrs.frozen
class Transfer:
    """One transfer: sender index, and the calldata every engine receives."""

    sender: int
    calldata: bytes


def transfer_calldata(to: bytes, amount: int) -> bytes:
    """``transfer(to, amount)`` calldata."""
    return TRANSFER + encode(["address", "uint256"], ["0x" + to.hex(), amount])


def constructor_args() -> bytes:
    """The ABI-encoded constructor arguments (name, symbol, initial supply)."""
    return encode(["string", "string", "uint256"], [NAME, SYMBOL, SUPPLY])


class Engine(abc.ABC):
    """An ERC20 deployed on one execution engine."""

    name: str

    @abc.abstractmethod
    def transfer(self, sender: int, calldata: bytes) -> None:
        """Execute one transfer from account ``sender``; raise if it fails."""

    @abc.abstractmethod
    def run(self, transfers: Sequence[Transfer]) -> None:
        """Execute the transfers in order (the timed loop: keep it tight)."""

    @abc.abstractmethod
    def balance_of(self, who: bytes) -> int:
        """The token balance of ``who``."""

    def prepare(self, transfers: Sequence[Transfer]) -> None:  # noqa: B027 - optional
        """Turn ``transfers`` into what :meth:`run` executes, before any timing (optional)."""

    def fund(self, amount: int) -> None:
        """Give every account ``amount`` tokens from the deployer (account index -1)."""
        for account in self.accounts:
            self.transfer(-1, transfer_calldata(account, amount))

    accounts: Sequence[bytes] = ()


class WasmEngine(Engine):
    """The AssemblyScript ERC20 on SuperVM's WASM runtime, one state overlay per run."""

    name = "wasm"
    #: The execution backend the transfers run on.
    vm_name = "wasm"

    def __init__(
        self, kernel: Kernel, artifact: Artifact, deployer: bytes, accounts: Sequence[bytes]
    ):
        self.accounts = accounts
        self.storage = kernel.open_storage("memory")
        self.vm = kernel.vm(self.vm_name, VMSettings(cache_dir=""))
        token = Contract(kernel, artifact, self.storage)
        deployment = token.deploy(ExecutionContext(caller=deployer), NAME, SYMBOL, SUPPLY)
        if not deployment.ok:
            raise RuntimeError(f"WASM ERC20 deploy failed: {deployment.result.error}")
        self.address = deployment.address
        self.code = artifact.bytecode
        self.token = token
        # Contexts are built once: a transaction's context is data the node already has.
        self.contexts = [
            ExecutionContext(caller=a, address=self.address, gas_limit=GAS) for a in accounts
        ]
        self.deployer_context = ExecutionContext(
            caller=deployer, address=self.address, gas_limit=GAS
        )

    def transfer(self, sender: int, calldata: bytes) -> None:
        ctx = self.deployer_context if sender < 0 else self.contexts[sender]
        state = StateOverlay(self.storage)
        result = self.vm.execute(self.code, state, ctx, input=calldata)
        if not result.ok:
            raise RuntimeError(f"WASM transfer failed: {result.error}")
        state.commit()

    def run(self, transfers: Sequence[Transfer]) -> None:
        state = StateOverlay(self.storage)
        execute, code, contexts = self.vm.execute, self.code, self.contexts
        for t in transfers:
            result = execute(code, state, contexts[t.sender], input=t.calldata)
        if not result.ok:
            raise RuntimeError(f"WASM transfer failed: {result.error}")
        state.commit()

    def balance_of(self, who: bytes) -> int:
        return int(self.token.call("balanceOf", "0x" + who.hex()).value)  # type: ignore[arg-type]


class PyrevmEngine(Engine):
    """The Solidity ERC20 on pyrevm (revm), through ``message_call``."""

    name = "pyrevm"

    def __init__(self, artifact: Artifact, deployer: bytes, accounts: Sequence[bytes]):
        from pyrevm import EVM

        self.accounts = accounts
        self.evm = EVM(spec_id="CANCUN")
        self.deployer = "0x" + deployer.hex()
        self.address = self.evm.deploy(
            self.deployer, artifact.bytecode + constructor_args(), gas=10_000_000
        )
        self.callers = ["0x" + a.hex() for a in accounts]

    def transfer(self, sender: int, calldata: bytes) -> None:
        caller = self.deployer if sender < 0 else self.callers[sender]
        out = self.evm.message_call(caller, self.address, calldata, gas=GAS)
        if decode(["bool"], bytes(out))[0] is not True:
            raise RuntimeError("pyrevm transfer returned false")

    def run(self, transfers: Sequence[Transfer]) -> None:
        call, address, callers = self.evm.message_call, self.address, self.callers
        for t in transfers:
            call(callers[t.sender], address, t.calldata, gas=GAS)

    def balance_of(self, who: bytes) -> int:
        out = self.evm.message_call(
            self.deployer, self.address, BALANCE_OF + encode(["address"], ["0x" + who.hex()])
        )
        return int(decode(["uint256"], bytes(out))[0])


class PyevmEngine(Engine):
    """The Solidity ERC20 on py-evm, applying messages to a Cancun state directly."""

    name = "pyevm"

    def __init__(self, artifact: Artifact, deployer: bytes, accounts: Sequence[bytes]):
        from eth.constants import BLANK_ROOT_HASH
        from eth.db.atomic import AtomicDB
        from eth.vm.execution_context import ExecutionContext as EvmContext
        from eth.vm.forks.cancun.state import CancunState
        from eth.vm.message import Message
        from supervm import create_address

        self.accounts = accounts
        self._message = Message
        context = EvmContext(
            coinbase=b"\0" * 20, timestamp=1, block_number=1, difficulty=0, mix_hash=b"\0" * 32,
            gas_limit=10**9, prev_hashes=(), chain_id=1, base_fee_per_gas=0, excess_blob_gas=0,
        )  # fmt: skip
        self.state = CancunState(AtomicDB(), context, BLANK_ROOT_HASH)
        self._tx_context = self.state.get_transaction_context_class()
        self.deployer = deployer
        self.address = create_address(deployer, 0)
        create = Message(
            gas=10_000_000, to=b"", sender=deployer, value=0, data=b"",
            code=artifact.bytecode + constructor_args(), create_address=self.address,
        )  # fmt: skip
        computation = self.state.computation_class.apply_create_message(
            self.state,
            create,
            self._tx_context(gas_price=0, origin=deployer, blob_versioned_hashes=()),
        )
        if not computation.is_success:
            raise RuntimeError(f"py-evm deploy failed: {computation.error}")
        self.code = self.state.get_code(self.address)
        self.apply = self.state.computation_class.apply_message

    def _call(self, sender: bytes, calldata: bytes) -> bytes:
        message = self._message(
            gas=GAS, to=self.address, sender=sender, value=0, data=calldata, code=self.code
        )
        context = self._tx_context(gas_price=0, origin=sender, blob_versioned_hashes=())
        computation = self.apply(self.state, message, context)
        if not computation.is_success:
            raise RuntimeError(f"py-evm call failed: {computation.error}")
        return bytes(computation.output)

    def transfer(self, sender: int, calldata: bytes) -> None:
        self._call(self.deployer if sender < 0 else self.accounts[sender], calldata)

    def run(self, transfers: Sequence[Transfer]) -> None:
        call, accounts = self._call, self.accounts
        for t in transfers:
            call(accounts[t.sender], t.calldata)

    def balance_of(self, who: bytes) -> int:
        out = self._call(self.deployer, BALANCE_OF + encode(["address"], ["0x" + who.hex()]))
        return int(decode(["uint256"], out)[0])


class EvmStateEngine(Engine):
    """The Solidity ERC20 on the kernel's ``evm`` backend (revm), against a ``WorldState``.

    What a chain does for a call into an EVM contract: the backend's ``execute`` on the world
    state, which keeps pyrevm's database in step with it (load, run, check, write back), one
    state overlay per run as :class:`WasmEngine` has (the backend's pyrevm session outlives
    the overlays, as it outlives a chain's blocks, so from the second round on nothing is
    loaded). Compare with :class:`PyrevmEngine`, the same bytecode on bare pyrevm with its own
    database, whose journal is never read or reset (every account stays warm).
    """

    name = "evm"

    def __init__(
        self, kernel: Kernel, artifact: Artifact, deployer: bytes, accounts: Sequence[bytes]
    ):
        from supervm import WorldState
        from supervm.chain.transactions import UnsignedTransaction
        from supervm.model import BlockEnv

        self.accounts = accounts
        self.storage = kernel.open_storage("memory")
        self.vm = kernel.vm("evm", VMSettings(options={"evm": "pyrevm"}))
        self.env = BlockEnv(chain_id=1, number=1, timestamp=1, coinbase=bytes(20),
                            gas_limit=30_000_000)  # fmt: skip
        state = WorldState(self.storage)
        state.set_balance(deployer, 10**24)
        create = UnsignedTransaction(
            type=0, chain_id=1, nonce=0, gas_price=0, gas=10_000_000, to=None,
            data=artifact.bytecode + constructor_args(),
        )  # fmt: skip
        result = self.vm.apply_transaction(create, deployer, state, self.env)  # type: ignore[attr-defined]
        if result.error is not None or result.contract_address is None:
            raise RuntimeError(f"EVM ERC20 deploy failed: {result.error}")
        state.commit()
        self.address: bytes = result.contract_address
        self.code = WorldState(self.storage).code(self.address)
        self._state_class = WorldState
        self.contexts = [self._context(a) for a in accounts]
        self.deployer_context = self._context(deployer)

    def _context(self, caller: bytes) -> ExecutionContext:
        return ExecutionContext(
            block_number=1, timestamp=1, caller=caller, address=self.address, gas_limit=GAS,
            origin=caller, env=self.env,
        )  # fmt: skip

    def transfer(self, sender: int, calldata: bytes) -> None:
        ctx = self.deployer_context if sender < 0 else self.contexts[sender]
        state = self._state_class(self.storage)
        result = self.vm.execute(self.code, state, ctx, input=calldata)
        if not result.ok or decode(["bool"], result.return_data)[0] is not True:
            raise RuntimeError(f"EVM transfer failed: {result.error}")
        state.commit()

    def run(self, transfers: Sequence[Transfer]) -> None:
        state = self._state_class(self.storage)
        execute, code, contexts = self.vm.execute, self.code, self.contexts
        for t in transfers:
            result = execute(code, state, contexts[t.sender], input=t.calldata)
        if not result.ok:
            raise RuntimeError(f"EVM transfer failed: {result.error}")
        state.commit()

    def balance_of(self, who: bytes) -> int:
        state = self._state_class(self.storage)
        call = BALANCE_OF + encode(["address"], ["0x" + who.hex()])
        result = self.vm.execute(self.code, state, self.deployer_context, input=call)
        return int(decode(["uint256"], result.return_data)[0])


class WasmNativeEngine(WasmEngine):
    """The same token on the native path (``wasm-native``: host functions in C), call by call."""

    name = "wasm-native"
    vm_name = "wasm-native"


class WasmNativeBlockEngine(WasmNativeEngine):
    """The native path's block interface: all the transfers in one call, on one thread.

    ``NativeWasmBackend.execute_block`` runs the block in C and returns the results per block
    (results equal to the calls one by one, docs/native.md); one thread, so that the row is
    the engine's own speed, as pyrevm's is.
    """

    name = "wasm-native-block"

    def __init__(
        self, kernel: Kernel, artifact: Artifact, deployer: bytes, accounts: Sequence[bytes]
    ):
        super().__init__(kernel, artifact, deployer, accounts)
        self._calls: dict[int, list[Call]] = {}

    def prepare(self, transfers: Sequence[Transfer]) -> None:
        # A block's calls are data the node already has, like the contexts.
        self._calls[id(transfers)] = [
            Call(code=self.code, input=t.calldata, context=self.contexts[t.sender],
                 vm=self.vm_name)
            for t in transfers
        ]  # fmt: skip

    def run(self, transfers: Sequence[Transfer]) -> None:
        calls = self._calls.get(id(transfers))
        if calls is None:
            self.prepare(transfers)
            calls = self._calls[id(transfers)]
        state = StateOverlay(self.storage)
        execute_block: Any = getattr(self.vm, "execute_block")  # noqa: B009
        run = execute_block(calls, state, threads=1)
        if run is None or run.results is None:
            raise RuntimeError("the native block executor did not run the transfers")
        if not run.results[-1].ok:
            raise RuntimeError(f"WASM transfer failed: {run.results[-1].error}")
        state.commit()


def native_available(kernel: Kernel) -> bool:
    """Whether the native execution core runs here (``supervm native`` says why not)."""
    if "wasm-native" not in kernel.vms.names():
        return False
    return (
        getattr(kernel.vm("wasm-native", VMSettings(cache_dir="")), "engine_kind", "") == "native"
    )
