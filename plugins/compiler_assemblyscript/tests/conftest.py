"""Fixtures for the AssemblyScript compiler tests: the repo's toolchain, compiled contracts (each
compiled once per session through the plugin's Python API) and deployed instances on SuperVM's
WASM runtime."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from supervm import ExecutionContext, ExecutionResult, Kernel
from supervm.tooling.abi import selector
from supervm.tooling.compilers import Artifact, CompileSettings
from supervm.tooling.contracts import Contract
from supervm_compiler_assemblyscript import AssemblyScriptCompiler

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"
SDK = REPO / "sdk" / "assemblyscript"
SDK_CONTRACTS = SDK / "tests" / "contracts"
EXAMPLES = REPO / "examples" / "contracts"
COUNTER_SOURCE = EXAMPLES / "counter-as" / "assembly" / "index.ts"
ERC20_SOURCE = EXAMPLES / "erc20-as" / "assembly" / "index.ts"

DEPLOYER = bytes.fromhex("d0" * 20)
ALICE = bytes.fromhex("a1" * 20)
BOB = bytes.fromhex("b0" * 20)


@pytest.fixture(scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("supervm-cache")


@pytest.fixture(scope="module", autouse=True)
def _private_cache_dir(_cache_dir: Path) -> Iterator[None]:
    """Compiled modules go to a temporary directory, never to ``~/.cache`` (restored after each
    module, so that other plugins' tests see their own environment)."""
    old = os.environ.get("SUPERVM_CACHE_DIR")
    os.environ["SUPERVM_CACHE_DIR"] = str(_cache_dir)
    yield
    if old is None:
        os.environ.pop("SUPERVM_CACHE_DIR", None)
    else:
        os.environ["SUPERVM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def settings() -> CompileSettings:
    """Compile with the repo's toolchain (``make install`` puts it in node_modules)."""
    return CompileSettings(node_modules=NODE_MODULES)


@pytest.fixture(scope="session")
def compiler() -> AssemblyScriptCompiler:
    return AssemblyScriptCompiler()


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


def _compile_one(
    compiler: AssemblyScriptCompiler, path: Path, settings: CompileSettings
) -> Artifact:
    (artifact,) = compiler.compile([path], settings)
    return artifact


@pytest.fixture(scope="session")
def erc20(compiler: AssemblyScriptCompiler, settings: CompileSettings) -> Artifact:
    """The example ERC20, compiled once."""
    return _compile_one(compiler, ERC20_SOURCE, settings)


@pytest.fixture(scope="session")
def erc20_optimized(compiler: AssemblyScriptCompiler, settings: CompileSettings) -> Artifact:
    """The example ERC20, compiled with --optimize (wasm-opt -O3)."""
    optimized = CompileSettings(optimize=True, node_modules=settings.node_modules)
    return _compile_one(compiler, ERC20_SOURCE, optimized)


@pytest.fixture(scope="session")
def oz_erc20_abi() -> list[dict[str, Any]]:
    """OpenZeppelin's compiled ERC20 ABI, from node_modules."""
    path = NODE_MODULES / "@openzeppelin" / "contracts" / "build" / "contracts" / "ERC20.json"
    abi: list[dict[str, Any]] = json.loads(path.read_text())["abi"]
    return abi


@pytest.fixture(scope="session")
def counter_artifact(compiler: AssemblyScriptCompiler, settings: CompileSettings) -> Artifact:
    return _compile_one(compiler, COUNTER_SOURCE, settings)


@pytest.fixture(scope="session")
def abi_types(compiler: AssemblyScriptCompiler, settings: CompileSettings) -> Artifact:
    """The SDK's ABI test contract."""
    return _compile_one(compiler, SDK_CONTRACTS / "AbiTypes.ts", settings)


@pytest.fixture(scope="session")
def context_probe(compiler: AssemblyScriptCompiler, settings: CompileSettings) -> Artifact:
    """The SDK's context, storage and crypto test contract."""
    return _compile_one(compiler, SDK_CONTRACTS / "Context.ts", settings)


Deploy = Callable[..., Contract]


@pytest.fixture
def deploy(kernel: Kernel) -> Deploy:
    """``deploy(artifact, *constructor_args, caller=DEPLOYER)`` into fresh memory storage."""

    def deploy_(artifact: Artifact, *args: Any, caller: bytes = DEPLOYER) -> Contract:
        contract = Contract(kernel, artifact, kernel.open_storage("memory"))
        deployment = contract.deploy(ExecutionContext(caller=caller, block_number=1), *args)
        assert deployment.ok, deployment.result.error
        return contract

    return deploy_


def raw_call(
    contract: Contract,
    signature: str,
    types: Sequence[str] = (),
    values: Sequence[Any] = (),
    *,
    caller: bytes = DEPLOYER,
    data: bytes | None = None,
    **context: Any,
) -> ExecutionResult:
    """Call ``signature`` with eth-abi-encoded arguments (or raw ``data``); commits on success."""
    assert contract.address is not None
    calldata = data if data is not None else selector(signature) + encode(list(types), list(values))
    return contract.kernel.call(
        contract.address,
        contract.state,
        ExecutionContext(caller=caller, **context),
        input=calldata,
    )


RawCall = Callable[..., ExecutionResult]


@pytest.fixture
def raw() -> RawCall:
    """``raw(contract, "f(uint256)", ["uint256"], [1], caller=..., data=...)``: see raw_call."""
    return raw_call
