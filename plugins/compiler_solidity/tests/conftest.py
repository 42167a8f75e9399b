"""Fixtures for the Solidity compiler tests: the repo's toolchain, compiled ERC20s, and a small
ABI-driven wrapper to run contracts on pyrevm (revm 8, the EVM of SuperVM's EVM backend)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from pyrevm import EVM
from supervm.compilers import Artifact, CompileSettings
from supervm_compiler_solidity import SolidityCompiler

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"
EXAMPLE = REPO / "examples" / "contracts" / "erc20-sol"
EXAMPLE_SOURCE = EXAMPLE / "contracts" / "ERC20Token.sol"
OZ_ERC20 = NODE_MODULES / "@openzeppelin" / "contracts" / "build" / "contracts" / "ERC20.json"

DEPLOYER = to_checksum_address("0x" + "d0" * 20)
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b0" * 20)
ZERO = to_checksum_address("0x" + "00" * 20)
SUPPLY = 1_000_000 * 10**18


def _type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter, tuples spelled out."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


def _types(params: Sequence[Mapping[str, Any]]) -> list[str]:
    return [_type(p) for p in params]


def signature(item: Mapping[str, Any]) -> str:
    """``name(type,...)`` of an ABI function, event or error."""
    return f"{item['name']}({','.join(_types(item.get('inputs', ())))})"


class Reverted(Exception):
    """A call reverted: ``error`` names the ABI's custom error (``None`` if unknown), ``fields``
    holds its decoded arguments and ``data`` the raw revert data."""

    def __init__(self, data: bytes, error: str | None, fields: dict[str, Any]) -> None:
        super().__init__(f"{error}{fields}" if error else f"revert 0x{data.hex()}")
        self.data = data
        self.error = error
        self.fields = fields


class Contract:
    """A deployed contract on a pyrevm EVM, called by ABI name."""

    def __init__(self, evm: EVM, address: str, abi: Sequence[Mapping[str, Any]]) -> None:
        self.evm = evm
        self.address = address
        self.abi = abi
        self.functions = {i["name"]: i for i in abi if i["type"] == "function"}
        self.events = {keccak(text=signature(i)): i for i in abi if i["type"] == "event"}
        self.errors = {keccak(text=signature(i))[:4]: i for i in abi if i["type"] == "error"}

    def call(self, name: str, *args: Any, sender: str = DEPLOYER) -> Any:
        """Call function ``name`` (committing its effects); one output is returned bare."""
        item = self.functions[name]
        data = keccak(text=signature(item))[:4] + encode(_types(item["inputs"]), list(args))
        try:
            out = self.evm.message_call(sender, self.address, data)
        except RuntimeError as exc:
            raise self.revert_error(exc) from None
        values = decode(_types(item["outputs"]), out)
        return values[0] if len(values) == 1 else values

    def revert_error(self, exc: RuntimeError) -> Reverted:
        """Decode pyrevm's ``Revert { gas_used: .., output: 0x.. }`` with the ABI's errors."""
        match = re.search(r"Revert \{.*output: 0x([0-9a-fA-F]*)", str(exc))
        if match is None:
            raise exc
        data = bytes.fromhex(match[1])
        item = self.errors.get(data[:4])
        if item is None:
            return Reverted(data, None, {})
        values = decode(_types(item["inputs"]), data[4:])
        return Reverted(data, item["name"], dict(zip([i["name"] for i in item["inputs"]], values)))

    def logs(self) -> list[tuple[str, dict[str, Any]]]:
        """The events the last call emitted, decoded: ``[(name, {arg: value})]``."""
        decoded = []
        for log in self.evm.result.logs:
            topics, data = log.data
            item = self.events[bytes(topics[0])]
            indexed = [i for i in item["inputs"] if i["indexed"]]
            plain = [i for i in item["inputs"] if not i["indexed"]]
            values = {
                p["name"]: decode([_type(p)], bytes(t))[0]
                for p, t in zip(indexed, topics[1:], strict=True)
            }
            values.update(zip([p["name"] for p in plain], decode(_types(plain), data)))
            decoded.append((item["name"], values))
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
        ctor = next((i for i in artifact.abi if i["type"] == "constructor"), {"inputs": []})
        address = evm.deploy(sender, artifact.bytecode + encode(_types(ctor["inputs"]), args))
        return Contract(evm, address, artifact.abi)

    return deploy_
