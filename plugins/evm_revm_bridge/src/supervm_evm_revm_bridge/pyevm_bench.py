"""What cross-VM transactions cost: ERC20 transfers on py-evm, on WASM, and across the two.

``python -m supervm_evm_revm_bridge.pyevm_bench SOLIDITY.json WASM.json [-n 300]`` takes the
artifacts of the Solidity ERC20 (``supervm compile examples/contracts/erc20-sol``) and of the
AssemblyScript ERC20 (``examples/contracts/erc20-as``) and times signed transfers to distinct
recipients through the kernel's ``TransactionExecutor`` (CPU time), each kind on a fresh
in-memory world state: the Solidity token on py-evm (and, for comparison, on revm), the WASM
token on the kernel's path, an EVM contract forwarding to the WASM token (EVM → WASM), and a
WASM contract forwarding to the Solidity token (WASM → EVM). ``docs/evm-crossvm.md`` ("What it
costs") shows the figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import wasmtime
from eth_abi.abi import encode
from supervm import Kernel, load_artifact
from supervm.chain.processor import TransactionExecutor
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.crypto import keccak256
from supervm.execution.interfaces import VMSettings
from supervm.model import BlockEnv
from supervm.state.world import WorldState
from supervm.tooling.abi import selector

from .pyevm_testing import WASM_CALLER_WAT, Item, assemble

_KEY = b"\x07" * 32
_ENV = BlockEnv(chain_id=1337, number=1, timestamp=1, coinbase=bytes(20), gas_limit=10**9)
_SETTINGS = VMSettings(options={"evm": "pyevm"})
_TRANSFER = selector("transfer(address,uint256)")
_FORWARDER = bytes.fromhex("f0" * 20)
_WASM_CALLER = bytes.fromhex("0a" * 20)


@attrs.frozen
class Measurement:
    """One kind of transfer, timed.

    :param label: what was measured.
    :param transactions: how many transactions ran.
    :param seconds: the CPU time they took.
    :param gas: the last transaction's gas.
    """

    label: str
    transactions: int
    seconds: float
    gas: int

    @property
    def micros(self) -> float:
        """Microseconds per transaction."""
        return self.seconds / self.transactions * 1e6


def forwarder(target: bytes) -> bytes:
    """EVM code that sends its calldata to ``target`` and reverts if that call fails."""
    call: list[Item] = [0, 0, "CALLDATASIZE", 0, 0, target, "GAS", "CALL"]
    return assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", call, "ISZERO", ":bad", "JUMPI",
                    "STOP", "@bad", 0, 0, "REVERT")  # fmt: skip


class _Run:
    """One world state with the signing account funded."""

    def __init__(self, kernel: Kernel, settings: VMSettings = _SETTINGS) -> None:
        self.kernel = kernel
        self.key = _KEY
        self.sender = keccak256(_public_key(_KEY))[12:]
        self.world = WorldState(kernel.open_storage("memory"))
        self.world.set_balance(self.sender, 10**30)
        self.executor = TransactionExecutor(kernel, _ENV, settings)
        self.nonce = 0

    def tx(self, to: bytes | None, data: bytes, gas: int = 3_000_000) -> Transaction:
        unsigned = UnsignedTransaction(
            type=2, chain_id=_ENV.chain_id, nonce=self.nonce, gas=gas, to=to, data=data,
            max_priority_fee_per_gas=1, max_fee_per_gas=2,
        )  # fmt: skip
        self.nonce += 1
        signed = sign_transaction(unsigned, self.key)
        assert signed.sender == self.sender  # recover now, not in the timed loop
        return signed

    def apply(self, tx: Transaction) -> int:
        result = self.executor(tx, self.world)
        if result.error is not None or result.rejected is not None:
            raise RuntimeError(f"transaction failed: {result.rejected or result.error}")
        return result.gas_used

    def deploy(self, code: bytes) -> bytes:
        result = self.executor(self.tx(None, code, gas=20_000_000), self.world)
        if result.contract_address is None:
            raise RuntimeError(f"deploy failed: {result.rejected or result.error}")
        return result.contract_address

    def install(self, address: bytes, code: bytes) -> None:
        self.world.set_code(address, code)
        self.world.set_nonce(address, 1)

    def time(
        self, label: str, make: Callable[[bytes], bytes], to: bytes, count: int
    ) -> Measurement:
        txs = [self.tx(to, make(_recipient(i))) for i in range(count)]
        gas = 0
        # CPU time of this process: the machine is shared, wall-clock time is not ours alone.
        started = time.process_time()
        for tx in txs:
            gas = self.apply(tx)
        return Measurement(label, count, time.process_time() - started, gas)


def _public_key(key: bytes) -> bytes:
    import coincurve

    return coincurve.PrivateKey(key).public_key.format(compressed=False)[1:]


def _recipient(index: int) -> bytes:
    return bytes([0xEE, index >> 8 & 0xFF, index & 0xFF]) + bytes(17)


def transfer(to: bytes, amount: int = 1) -> bytes:
    """``transfer(to, amount)`` calldata."""
    return _TRANSFER + encode(["address", "uint256"], ["0x" + to.hex(), amount])


def measure(kernel: Kernel, solidity: bytes, wasm: bytes, count: int) -> list[Measurement]:
    """Time ``count`` transfers of each kind; ``solidity``/``wasm``: the tokens' creation code
    (constructor ``(string name, string symbol, uint256 supply)``)."""
    arguments = encode(["string", "string", "uint256"], ["Bench", "B", 10**30])
    out = []

    run = _Run(kernel)
    token = run.deploy(solidity + arguments)
    out.append(run.time("Solidity ERC20 transfer, py-evm", transfer, token, count))

    run = _Run(kernel, VMSettings())  # the default EVM engine: revm
    token = run.deploy(solidity + arguments)
    out.append(run.time("Solidity ERC20 transfer, revm", transfer, token, count))

    run = _Run(kernel)
    token = run.deploy(wasm + arguments)
    out.append(run.time("AssemblyScript ERC20 transfer, WASM", transfer, token, count))

    run = _Run(kernel)
    token = run.deploy(wasm + arguments)
    run.install(_FORWARDER, forwarder(token))
    run.apply(run.tx(token, transfer(_FORWARDER, 10**24)))
    out.append(run.time("EVM contract calls the WASM ERC20", transfer, _FORWARDER, count))

    run = _Run(kernel)
    token = run.deploy(solidity + arguments)
    run.install(_WASM_CALLER, bytes(wasmtime.wat2wasm(WASM_CALLER_WAT)))
    run.apply(run.tx(token, transfer(_WASM_CALLER, 10**24)))

    def through(to: bytes) -> bytes:
        return token + bytes(32) + transfer(to)

    out.append(run.time("WASM contract calls the Solidity ERC20", through, _WASM_CALLER, count))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the measurements as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solidity", type=Path, help="artifact of the Solidity ERC20")
    parser.add_argument("wasm", type=Path, help="artifact of the AssemblyScript ERC20")
    parser.add_argument("-n", type=int, default=300, help="transfers of each kind")
    args = parser.parse_args(argv)
    with Kernel.from_plugins() as kernel:
        results = measure(
            kernel, load_artifact(args.solidity).bytecode, load_artifact(args.wasm).bytecode, args.n
        )
    for m in results:
        print(f"{m.label:45s} {m.micros:9.0f} us/tx {1e6 / m.micros:7.0f} tx/s  gas {m.gas}")


if __name__ == "__main__":
    main()
