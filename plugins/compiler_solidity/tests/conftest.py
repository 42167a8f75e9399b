"""Fixtures for the Solidity compiler tests: the repo's toolchain, compiled ERC20s, and a small
ABI-driven wrapper to run contracts on pyrevm (revm 8, the EVM of SuperVM's EVM backend)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address
from pyrevm import EVM
from supervm.model import Log
from supervm.tooling.abi import (
    canonical_type,
    constructor,
    decode_log,
    decode_output,
    decode_revert,
    encode_arguments,
    encode_call,
    find_function,
    selector,
)
from supervm.tooling.compilers import Artifact, CompileSettings
from supervm_compiler_solidity import SolidityCompiler

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"
EXAMPLE = REPO / "examples" / "contracts" / "erc20-sol"
EXAMPLE_SOURCE = EXAMPLE / "contracts" / "ERC20Token.sol"

DEPLOYER = to_checksum_address("0x" + "d0" * 20)


class Reverted(Exception):
    """A call reverted: ``reason`` is the kernel's readable decoding (``Name(arg, ...)`` for a
    custom error of the ABI), ``error`` the custom error's name and ``fields`` its arguments."""

    def __init__(self, data: bytes, abi: Sequence[Mapping[str, Any]]) -> None:
        self.data = data
        self.reason = decode_revert(data, abi)
        super().__init__(self.reason or f"revert 0x{data.hex()}")
        item = next((i for i in abi if i["type"] == "error" and selector(i) == data[:4]), None)
        self.error = None if item is None else str(item["name"])
        self.fields: dict[str, Any] = {}
        if item is not None:
            names = [p["name"] for p in item["inputs"]]
            values = decode([canonical_type(p) for p in item["inputs"]], data[4:])
            self.fields = dict(zip(names, values, strict=True))


class Contract:
    """A deployed contract on a pyrevm EVM, called by ABI name (:mod:`supervm.tooling.abi`)."""

    def __init__(self, evm: EVM, address: str, abi: Sequence[Mapping[str, Any]]) -> None:
        self.evm = evm
        self.address = address
        self.abi = abi

    def call(self, name: str, *args: Any, sender: str = DEPLOYER) -> Any:
        """Call function ``name`` (committing its effects); one output is returned bare."""
        data = encode_call(self.abi, name, args)
        try:
            out = self.evm.message_call(sender, self.address, data)
        except RuntimeError as exc:
            # pyrevm reports a revert as RuntimeError("Revert { gas_used: .., output: 0x.. }")
            match = re.search(r"Revert \{.*output: 0x([0-9a-fA-F]*)", str(exc))
            if match is None:
                raise
            raise Reverted(bytes.fromhex(match[1]), self.abi) from None
        values = decode_output(find_function(self.abi, name, len(args)), bytes(out))
        return values[0] if len(values) == 1 else values

    def logs(self) -> list[tuple[str, dict[str, Any]]]:
        """The events the last call emitted, decoded: ``[(name, {arg: value})]``."""
        decoded = []
        for log in self.evm.result.logs:
            topics, data = log.data
            item = decode_log(
                self.abi,
                Log(
                    address=bytes.fromhex(log.address[2:]),
                    topics=tuple(bytes(t) for t in topics),
                    data=bytes(data),
                ),
            )
            assert item is not None, f"log matches no event of the ABI: {log.topics}"
            decoded.append((item.event, dict(item.args)))
        return decoded


Deploy = Callable[..., Contract]


@pytest.fixture(scope="session")
def settings() -> CompileSettings:
    """Compile with the repo's toolchain (``make install`` puts it in node_modules)."""
    return CompileSettings(node_modules=NODE_MODULES)


@pytest.fixture(scope="session")
def compiler() -> SolidityCompiler:
    return SolidityCompiler()


@pytest.fixture(scope="session")
def erc20(compiler: SolidityCompiler, settings: CompileSettings) -> Artifact:
    """The example ERC20, compiled once through the plugin API."""
    (artifact,) = compiler.compile([EXAMPLE_SOURCE], settings)
    return artifact


@pytest.fixture(scope="session")
def erc20_optimized(compiler: SolidityCompiler, settings: CompileSettings) -> Artifact:
    optimized = CompileSettings(optimize=True, node_modules=settings.node_modules)
    (artifact,) = compiler.compile([EXAMPLE_SOURCE], optimized)
    return artifact


@pytest.fixture
def deploy() -> Deploy:
    """``deploy(artifact, *constructor_args, sender=DEPLOYER)`` on a fresh Cancun EVM."""

    def deploy_(artifact: Artifact, *args: Any, sender: str = DEPLOYER) -> Contract:
        evm = EVM(spec_id="CANCUN")
        ctor = constructor(artifact.abi)
        ctor_args = encode_arguments(ctor["inputs"], args) if ctor else b""
        address = evm.deploy(sender, artifact.bytecode + ctor_args)
        return Contract(evm, address, artifact.abi)

    return deploy_
