"""``supervm bench chain``: what the chain's bookkeeping costs on top of the contracts.

A chain is made from a genesis that funds ``n`` accounts; block 1 deploys the AssemblyScript
ERC20 with a signed create transaction and block 2 gives each account tokens. The timed block
is ``n`` signed transfers, each account sending to the next:

- **build**: the builder takes the transfers as a node's mempool holds them (decoded, senders
  recovered) and executes, makes receipts, the state root and every other root, and commits;
- **import**: a second chain, which imported blocks 1 and 2, receives the block's RLP and
  decodes it, recovers the senders (half of them in a worker process,
  :mod:`supervm.chain.senders`), re-executes it, checks every root and commits;
- **bare**: the same transfers' calldata run straight on the WASM backend, without a chain
  (``bench erc20``'s WASM row).

``ratio`` is ``build_tps / bare_tps``: 1.0 would mean the chain costs nothing beyond the calls.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import coincurve
from supervm import Kernel, StorageSettings
from supervm.chain.blocks import encode_block
from supervm.chain.chain import Chain
from supervm.chain.genesis import dev_genesis, parse_genesis
from supervm.chain.transactions import (
    Transaction,
    UnsignedTransaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from supervm.crypto import keccak256
from supervm.execution.wasm_binary import with_end_marker
from supervm.state.storage import Storage

from .bench import DEPLOYER, build_artifacts
from .engines import Transfer, WasmEngine, constructor_args, transfer_calldata

CHAIN_ID = 31337
#: Gas per transfer: the ERC20's transfer uses about 36,000.
TRANSFER_GAS = 60_000
TIP, FEE_CAP = 1, 10**11


@attrs.frozen
class ChainReport:
    """One run's figures.

    :param build_tps: transfers per second through the block builder.
    :param import_tps: transfers per second through the importer, from the block's RLP.
    :param bare_tps: the same calls per second on the WASM backend alone.
    :param build: seconds per step of building the block.
    :param import_: seconds per step of importing it.
    :param equal: whether the importing chain ends at the builder's head hash and state root.
    :param engine: the execution path (``python``: host functions in Python).
    """

    build_tps: float
    import_tps: float
    bare_tps: float
    build: dict[str, float]
    import_: dict[str, float]
    equal: bool
    engine: str = "python"

    @property
    def ratio(self) -> float:
        """Build rate over the bare rate."""
        return self.build_tps / self.bare_tps

    def as_json(self) -> dict[str, object]:
        """The ``--json`` line."""
        return {
            "build_tps": round(self.build_tps, 1),
            "import_tps": round(self.import_tps, 1),
            "bare_tps": round(self.bare_tps, 1),
            "ratio": round(self.ratio, 3),
            "root_ms": round(self.build["state_root"] * 1000, 1),
            "commit_ms": round(self.build["commit"] * 1000, 1),
            "engine": self.engine,
            "equal": self.equal,
        }


def _keys(n: int) -> list[bytes]:
    return [keccak256(b"supervm bench chain %d" % i) for i in range(n)]


def _address(key: bytes) -> bytes:
    return keccak256(coincurve.PrivateKey(key).public_key.format(compressed=False)[1:])[12:]


def _signed(key: bytes, nonce: int, to: bytes | None, data: bytes, gas: int) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2, chain_id=CHAIN_ID, nonce=nonce, max_priority_fee_per_gas=TIP,
        max_fee_per_gas=FEE_CAP, gas=gas, to=to, value=0, data=data,
    )  # fmt: skip
    # As a node's pool holds it: decoded from the wire, hash and encoding kept, sender known.
    tx = decode_transaction(encode_transaction(sign_transaction(unsigned, key)))
    assert tx.sender
    return tx


def _open(kernel: Kernel, backend: str, where: Path) -> Storage:
    if backend == "memory":
        return kernel.open_storage("memory")
    return kernel.open_storage(backend, StorageSettings(data_dir=where, map_size=8 * 1024**3))


def run(
    n: int = 10_000,
    storage: str = "lmdb",
    progress: Callable[[str], None] = lambda _m: None,
) -> ChainReport:
    """Build and import one block of ``n`` transfers among ``n`` accounts; see the module doc."""
    if n < 2:
        raise ValueError("need at least two transfers")
    with Kernel.from_plugins() as kernel, tempfile.TemporaryDirectory() as tmp:
        progress("compiling the AssemblyScript ERC20")
        wasm, _evm = build_artifacts(kernel, Path(tmp) / "build")
        progress(f"signing {2 * n:,} transactions for {n:,} accounts")
        keys = _keys(n)
        addresses = [_address(k) for k in keys]
        deployer_key = keccak256(b"supervm bench chain deployer")
        deployer = _address(deployer_key)
        genesis = dev_genesis((deployer, *addresses), balance=10**24, chain_id=CHAIN_ID)
        genesis["gasLimit"] = hex(2 * n * TRANSFER_GAS + 10_000_000)
        raw_genesis = json.dumps(genesis).encode()
        parsed = parse_genesis(genesis)
        token_address = None
        create = _signed(
            deployer_key, 0, None, with_end_marker(wasm.bytecode) + constructor_args(), 9_000_000
        )
        builder = Chain.initialise(kernel, _open(kernel, storage, Path(tmp) / "a"), parsed,
                                   raw_genesis)  # fmt: skip
        importer = Chain.initialise(kernel, _open(kernel, storage, Path(tmp) / "b"), parsed,
                                    raw_genesis)  # fmt: skip
        try:
            progress("block 1: deploying the token")
            built = builder.build_block([create], timestamp=1)
            token_address = built.executed.results[0].contract_address
            if token_address is None:
                raise RuntimeError(f"the ERC20 deploy failed: {built.executed.results[0].error}")
            funding = [
                _signed(deployer_key, 1 + i, token_address, transfer_calldata(a, 10**6), 60_000)
                for i, a in enumerate(addresses)
            ]
            progress(f"block 2: funding {n:,} accounts with tokens")
            builder.build_block(funding, timestamp=2)
            for number in (1, 2):
                block = builder.store.block_by_number(number)
                assert block is not None
                importer.import_block(block)
            calldata = [transfer_calldata(addresses[(i + 1) % n], 1) for i in range(n)]
            transfers = [
                _signed(keys[i], 0, token_address, calldata[i], TRANSFER_GAS) for i in range(n)
            ]

            progress(f"block 3: building {n:,} transfers")
            started = time.perf_counter()
            built = builder.build_block(transfers, timestamp=3)
            build_time = time.perf_counter() - started
            if len(built.block.transactions) != n or not all(
                r.status for r in built.executed.results
            ):
                raise RuntimeError("not every transfer of the timed block succeeded")
            build = dict(builder.last_timings)
            raw = encode_block(built.block)

            progress(f"block 3: importing {n:,} transfers from {len(raw):,} bytes of RLP")
            started = time.perf_counter()
            importer.import_block(raw)
            import_time = time.perf_counter() - started
            imported = dict(importer.last_timings)
            equal = (
                importer.head.hash == builder.head.hash
                and importer.head.state_root == builder.head.state_root
            )
        finally:
            builder.close()
            importer.close()

        progress(f"bare: {n:,} transfers on the WASM backend")
        engine = WasmEngine(kernel, wasm, DEPLOYER, addresses)
        engine.fund(10**6)
        batch = [Transfer(i, calldata[i]) for i in range(n)]
        bare_started = time.perf_counter()
        engine.run(batch)
        bare_time = time.perf_counter() - bare_started
    return ChainReport(
        build_tps=n / build_time,
        import_tps=n / import_time,
        bare_tps=n / bare_time,
        build={**build, "total": build_time},
        import_={**imported, "total": import_time},
        equal=equal,
    )


__all__ = ["ChainReport", "run"]
