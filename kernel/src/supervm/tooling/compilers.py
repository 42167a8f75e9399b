"""Contract compilers and the one artifact format every language compiles to.

A compiler plugin registers a :class:`Compiler` through ``supervm_register_compilers``;
``supervm compile`` picks one by source type and writes one :class:`Artifact` per contract as
``<ContractName>.json``. An artifact carries the standard Ethereum JSON ABI, so web3.py, ethers
and viem can call the contract whichever VM runs it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from supervm.crypto import keccak256

ArtifactKind = Literal["wasm", "evm"]


@attrs.frozen
class CompilerInfo:
    """Which compiler produced an artifact.

    :param name: the compiler, e.g. ``assemblyscript`` or ``solc``.
    :param version: its exact version.
    """

    name: str
    version: str


@attrs.frozen
class Artifact:
    """One compiled contract.

    :param name: the contract name; the artifact file is ``<name>.json``.
    :param kind: ``wasm`` (the bytecode is a WebAssembly module starting with ``\\0asm``) or
        ``evm`` (EVM creation code).
    :param abi: the standard Ethereum JSON ABI, as web3.py and ethers read it.
    :param bytecode: what a create transaction deploys.
    :param code_hash: 0x-hex Keccak-256 of ``bytecode``.
    :param source_hashes: source path (as given) -> 0x-hex Keccak-256 of its contents.
    :param compiler: the compiler and its version.
    :param settings: the settings the compiler ran with.
    :param deployed_bytecode: for EVM, the runtime code the creation code returns.
    """

    name: str
    kind: ArtifactKind
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    code_hash: str
    source_hashes: Mapping[str, str]
    compiler: CompilerInfo
    settings: Mapping[str, Any]
    deployed_bytecode: bytes | None = None


@attrs.frozen
class CompileSettings:
    """How to compile.

    :param optimize: run the optimiser (``wasm-opt`` for WASM, solc's optimiser for Solidity).
    :param node_modules: where the npm toolchain is installed; ``None`` searches upwards from
        the sources and the working directory.
    :param known_imports: ``(module, name)`` of every host function the enabled plugins define;
        a WASM artifact importing anything else is rejected.
    :param options: compiler-specific options.
    """

    optimize: bool = False
    node_modules: Path | None = None
    known_imports: frozenset[tuple[str, str]] = frozenset()
    options: Mapping[str, str] = attrs.field(factory=dict, hash=False)


class Compiler(abc.ABC):
    """Compiles contract sources of one language into artifacts."""

    #: File suffixes this compiler handles, e.g. ``(".sol",)``.
    suffixes: tuple[str, ...] = ()
    #: Short language name for ``supervm new NAME --lang LANG``, e.g. ``"sol"``.
    language: str = ""
    #: Names of the project templates :meth:`scaffold` can write, for ``supervm new NAME
    #: --template T``, the default first, e.g. ``("counter", "erc20")``. Empty (the default)
    #: for a compiler with a single, unnamed template or none.
    templates: tuple[str, ...] = ()

    def handles(self, path: Path) -> bool:
        """Whether ``path`` is a source file of this compiler's language."""
        return path.suffix in self.suffixes

    @abc.abstractmethod
    def compile(self, sources: Sequence[Path], settings: CompileSettings) -> list[Artifact]:
        """Compile ``sources`` (all of this compiler's language) into artifacts.

        Raise :class:`~supervm.errors.CompileError` with the compiler's message (file and
        line) when the sources do not compile.
        """

    def scaffold(self, name: str, dest: Path, template: str | None = None) -> list[Path]:
        """Create a new contract project ``name`` in the empty directory ``dest``.

        Returns the files written. The project must build with ``supervm compile`` and carry
        its own tests. ``template`` is one of :attr:`templates` (``None``: the first); an
        unknown one raises :class:`ValueError`. ``supervm new`` passes ``template`` only to
        compilers that list :attr:`templates`, so an override ``scaffold(self, name, dest)``
        of a compiler with one template keeps working. Compilers without a template raise
        :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"the {type(self).__name__} compiler has no project template")


def keccak_hex(data: bytes) -> str:
    """0x-hex Keccak-256 (Ethereum's) of ``data``: how artifacts record code and source hashes."""
    return "0x" + keccak256(data).hex()
