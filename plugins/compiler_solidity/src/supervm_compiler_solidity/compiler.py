"""The Solidity compiler: ``.sol`` sources to EVM artifacts, through solc-js.

All sources of one :meth:`SolidityCompiler.compile` call go to solc as one standard JSON input
(one ``node`` process). Source unit names are the sources' paths relative to the *project root*
(see :func:`project_root`), so the metadata hash solc appends to the bytecode, and with it the
artifact's ``code_hash``, does not depend on where the project is checked out or on the
working directory.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from supervm.errors import CompileError
from supervm.execution.evm_version import EVM_VERSION, SOLC_EVM_VERSIONS
from supervm.tooling.compilers import Artifact, Compiler, CompilerInfo, CompileSettings, keccak_hex
from supervm.tooling.toolchain import node_modules_dirs

from .scaffold import TEMPLATES, write_project
from .toolchain import SolcRun, find_node, find_solc, run_solc

log = logging.getLogger("supervm.solc")

#: EVM versions solc knows, oldest first.
EVM_VERSIONS = SOLC_EVM_VERSIONS
#: The newest EVM version SuperVM's EVM backends run, declared once by the kernel, and the
#: default: solc 0.8.37 itself defaults to osaka, whose code revm 8 cannot run.
MAX_EVM_VERSION = EVM_VERSION
#: solc's optimiser setting: how often the code is expected to run.
DEFAULT_OPTIMIZER_RUNS = 200
#: A directory holding one of these is a project root; see :func:`project_root`.
PROJECT_MARKERS = ("package.json", "node_modules", ".git", "foundry.toml", "pyproject.toml")
#: What solc must produce for each contract of the given sources.
OUTPUTS = ("abi", "metadata", "evm.bytecode.object", "evm.bytecode.linkReferences",
           "evm.deployedBytecode.object", "evm.deployedBytecode.linkReferences")  # fmt: skip
#: The primary location in a formattedMessage: `` --> file.sol:12:5:``.
_LOCATION = re.compile(r"^\s*--> .*:(?P<line>\d+):(?P<column>\d+):\s*$", re.MULTILINE)
_TRUE = ("1", "true", "yes", "on")


def evm_version(options: Mapping[str, str]) -> str:
    """``options["evm_version"]`` (default cancun), refused if newer than the EVM backend runs."""
    version = options.get("evm_version", MAX_EVM_VERSION)
    if version not in EVM_VERSIONS:
        raise CompileError(
            f"unknown EVM version {version!r} (known: {', '.join(EVM_VERSIONS)}; "
            f"SuperVM's EVM backend supports {MAX_EVM_VERSION} at most)"
        )
    if EVM_VERSIONS.index(version) > EVM_VERSIONS.index(MAX_EVM_VERSION):
        raise CompileError(
            f"EVM version {version!r} is not supported: SuperVM's EVM backend (revm 8, "
            f"pyrevm 0.3.7) supports {MAX_EVM_VERSION} at most; use evm_version={MAX_EVM_VERSION}"
        )
    return version


def solc_settings(settings: CompileSettings) -> dict[str, Any]:
    """solc's ``settings`` (without outputSelection) for ``settings``; also the artifact's.

    Options: ``evm_version`` (default and newest allowed: cancun), ``optimizer_runs`` (default
    200; the optimiser itself is on with ``settings.optimize``) and ``via_ir`` (``true``
    compiles through Yul IR). Other options are ignored: they may belong to another compiler.
    """
    options = settings.options
    runs_text = options.get("optimizer_runs", str(DEFAULT_OPTIMIZER_RUNS))
    try:
        runs = int(runs_text)
    except ValueError:
        runs = 0
    if runs < 1:
        raise CompileError(f"optimizer_runs must be a positive integer, not {runs_text!r}")
    result: dict[str, Any] = {
        "evmVersion": evm_version(options),
        "optimizer": {"enabled": settings.optimize, "runs": runs},
    }
    if options.get("via_ir", "").lower() in _TRUE:
        result["viaIR"] = True
    return result


def project_root(files: Sequence[Path], options: Mapping[str, str]) -> Path:
    """The directory source unit names are relative to.

    ``options["base_path"]`` if given; else the nearest directory, from the sources' common
    directory upwards, that holds a :data:`PROJECT_MARKERS` entry (``package.json``,
    ``node_modules``, ``.git``, ...); else the sources' common directory. Imports are resolved
    under it first, and a relative import cannot climb above it (solc drops the extra ``..``).
    """
    common = Path(os.path.commonpath([f.parent for f in files]))
    if "base_path" in options:
        base = Path(options["base_path"]).resolve()
        if base != common and base not in common.parents:
            raise CompileError(f"base_path {options['base_path']} does not contain every source")
        return base
    for directory in (common, *common.parents):
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return common


def _read(path: Path) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CompileError(f"{path}: {exc.strerror}") from None
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompileError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def describe_error(error: Mapping[str, Any], display: Mapping[str, str]) -> str:
    """One line for one solc error: ``file:line:column: Type: message``.

    ``display`` maps source unit names to what to call them (the path as given, or the file an
    import was read from).
    """
    kind = error.get("type") or "Error"
    message = " ".join(str(error.get("message", "")).split())
    location = error.get("sourceLocation") or {}
    unit = location.get("file")
    if not unit:
        return f"{kind}: {message}"
    where = display.get(unit, unit)
    match = _LOCATION.search(str(error.get("formattedMessage", "")))
    if match:
        where += f":{match['line']}:{match['column']}"
    return f"{where}: {kind}: {message}"


def _hex_code(code: Mapping[str, Any], what: str, name: str, path: str) -> bytes:
    links = code.get("linkReferences") or {}
    if links:
        libraries = sorted({lib for refs in links.values() for lib in refs})
        raise CompileError(
            f"{path}: contract {name} calls public functions of library "
            f"{', '.join(libraries)}, which needs linking; SuperVM does not link libraries yet "
            "(make the library functions internal)"
        )
    try:
        return bytes.fromhex(str(code.get("object", "")))
    except ValueError:
        raise CompileError(f"{path}: solc returned malformed {what} for {name}") from None


class SolidityCompiler(Compiler):
    """Compiles Solidity with solc-js (the npm package ``solc``) into ``evm`` artifacts, and
    scaffolds Solidity projects.

    :param node: the ``node`` executable; ``None`` uses the one on ``PATH``.
    """

    suffixes = (".sol",)
    language = "sol"
    templates = tuple(TEMPLATES)

    def __init__(self, node: str | None = None) -> None:
        self.node = node

    def compile(self, sources: Sequence[Path], settings: CompileSettings) -> list[Artifact]:
        """Compile ``sources`` into one artifact per deployable contract defined in them.

        Contracts of imported files (OpenZeppelin's, say), interfaces and abstract contracts
        get no artifact. Raises :class:`CompileError` with solc's messages, one line each, and
        :class:`~supervm.errors.ToolchainError` when Node.js or solc-js is missing.
        """
        given: dict[Path, str] = {}
        for path in sources:
            given.setdefault(path.resolve(), str(path))
        if not given:
            return []
        config = solc_settings(settings)
        files = list(given)
        base = project_root(files, settings.options)
        units = {file: file.relative_to(base).as_posix() for file in files}
        contents = {file: _read(file) for file in files}

        node = find_node(self.node)
        starts = [*dict.fromkeys(f.parent for f in files), Path.cwd(), Path(__file__).parent]
        import_dirs = node_modules_dirs(settings.node_modules, starts)
        solc = find_solc(import_dirs if settings.node_modules is None else import_dirs[:1])
        standard_input = {
            "language": "Solidity",
            "sources": {units[f]: {"content": contents[f][1]} for f in files},
            "settings": {
                **config,
                "outputSelection": {units[f]: {"*": list(OUTPUTS)} for f in files},
            },
        }
        run = run_solc(node, solc, base, import_dirs, standard_input)

        display = {**run.resolved, **{units[f]: given[f] for f in files}}
        self._report(run, display)
        return self._artifacts(run, files, units, given, contents, config)

    def scaffold(self, name: str, dest: Path, template: str | None = None) -> list[Path]:
        """Write ``contracts/<Name>.sol``, its pytest tests (compile with SuperVM, run on
        pyrevm) and a README into ``dest``. ``template`` is ``counter`` (the default) or
        ``erc20``."""
        return write_project(name, dest, template or self.templates[0])

    @staticmethod
    def _report(run: SolcRun, display: Mapping[str, str]) -> None:
        errors = []
        for error in run.output.get("errors") or ():
            line = describe_error(error, display)
            if error.get("severity") == "error":
                errors.append(line)
            else:
                log.warning("%s", line)
        if errors:
            raise CompileError("\n".join(errors))

    @staticmethod
    def _artifacts(
        run: SolcRun,
        files: Sequence[Path],
        units: Mapping[Path, str],
        given: Mapping[Path, str],
        contents: Mapping[Path, tuple[bytes, str]],
        config: Mapping[str, Any],
    ) -> list[Artifact]:
        hashes = {units[f]: (given[f], keccak_hex(contents[f][0])) for f in files}
        compiled = run.output.get("contracts") or {}
        artifacts: list[Artifact] = []
        defined_in: dict[str, str] = {}
        for file in files:
            path = given[file]
            for name, contract in (compiled.get(units[file]) or {}).items():
                evm = contract.get("evm") or {}
                bytecode = _hex_code(evm.get("bytecode") or {}, "bytecode", name, path)
                if not bytecode:  # an interface or an abstract contract: nothing to deploy
                    continue
                deployed = _hex_code(evm.get("deployedBytecode") or {}, "runtime", name, path)
                if name in defined_in:
                    raise CompileError(
                        f"contract {name} is defined in both {defined_in[name]} and {path}; "
                        f"artifacts are named after contracts ({name}.json): rename one"
                    )
                defined_in[name] = path
                metadata = json.loads(contract.get("metadata") or "{}")
                used = metadata.get("sources") or {units[file]: {}}
                artifacts.append(
                    Artifact(
                        name=name,
                        kind="evm",
                        abi=tuple(contract.get("abi") or ()),
                        bytecode=bytecode,
                        code_hash=keccak_hex(bytecode),
                        source_hashes=dict(hashes[u] for u in used if u in hashes),
                        compiler=CompilerInfo("solc", run.version),
                        settings=copy.deepcopy(dict(config)),
                        deployed_bytecode=deployed,
                    )
                )
        return artifacts
