"""The AssemblyScript compiler: ``.ts`` contracts to ``wasm`` artifacts, through asc.

**Entry files.** A ``.ts`` file is a contract entry if it declares a class decorated
``@contract`` (the SDK's transform generates its ``call``/``deploy`` exports and ABI), or if it
defines ``export function call`` itself (a hand-written contract, with an empty ABI). Every
other ``.ts`` file (libraries, event declarations, ``.d.ts``) is skipped when a directory is
compiled: it is compiled as part of the entries that import it.

**Pipeline.** asc (``--runtime stub``, optimise level 3, the SDK's transform and its abort
handler) in one ``node`` process for all entries; then, with ``optimize``, binaryen's
``wasm-opt -O3``; then the ABI is taken out of the module's ``supervm.abi`` custom section,
every custom section is stripped, the start function asc's stub runtime needs is folded into
the globals' initial values (SuperVM instantiates the module on every call), and the module is
checked: it may import only known host functions and export only ``call``, ``deploy``
and ``memory``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from supervm.errors import CompileError
from supervm.execution.wasm_binary import with_end_marker
from supervm.tooling.compilers import Artifact, Compiler, CompilerInfo, CompileSettings, keccak_hex

from . import wasm
from .hostabi import DOCUMENTED_IMPORTS, HOST_FUNCTIONS, MODULE
from .scaffold import TEMPLATES, write_project
from .toolchain import (
    AscCrash,
    AscJob,
    Toolchain,
    find_toolchain,
    run_asc,
    run_wasm_opt,
    wasm_opt_version,
)

log = logging.getLogger("supervm.asc")

#: The custom section the SDK's transform stores the ABI in.
ABI_SECTION = "supervm.abi"
#: asc's abort handler, from the SDK: reverts with Error(message).
ABORT = "~lib/@supervm/sdk/assembly/revert/__supervm_abort"
#: Exports a contract may have besides ``memory``; ``call`` is required.
ENTRY_EXPORTS = ("call", "deploy", wasm.INITIALIZE)
#: A file name that never exists: asc's --config, so that no asconfig.json is read.
NO_CONFIG = ".supervm-no-asconfig.json"
#: A directory holding one of these is a project root (asc's base directory).
PROJECT_MARKERS = ("package.json", "asconfig.json", ".git")

_CONTRACT = re.compile(r"^\s*@contract\b", re.MULTILINE)
_RAW_CALL = re.compile(r"^\s*export\s+function\s+call\s*\(", re.MULTILINE)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"//[^\n]*")
_DIAGNOSTIC = re.compile(r"^(ERROR|WARNING|INFO|PEDANTIC) ((?:AS|TS)\d+): (.*)$")
_LOCATION = re.compile(r"└─ in (.+)\((\d+),(\d+)\)\s*$")
_TRUE = ("1", "true", "yes", "on")


def is_library(path: Path) -> bool:
    """Whether ``path`` is a TypeScript declaration file, never an entry."""
    return path.name.endswith(".d.ts")


def entry_kind(text: str) -> str | None:
    """``"contract"`` (a ``@contract`` class), ``"raw"`` (``export function call``) or None."""
    code = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", text))
    if _CONTRACT.search(code):
        return "contract"
    if _RAW_CALL.search(code):
        return "raw"
    return None


def project_root(entry: Path) -> Path:
    """The nearest directory above ``entry`` with a package.json, asconfig.json or .git."""
    for directory in entry.parents:
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return entry.parent


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def describe_diagnostics(stderr: str, root: Path, given: Mapping[Path, str]) -> list[str]:
    """asc's errors as ``file:line:column: ERROR TS1005: message``, one per error."""
    lines = stderr.splitlines()
    errors = []
    for i, line in enumerate(lines):
        match = _DIAGNOSTIC.match(line.strip())
        if match is None or match[1] != "ERROR":
            continue
        where = ""
        for follow in lines[i + 1 : i + 12]:
            if _DIAGNOSTIC.match(follow.strip()):
                break
            loc = _LOCATION.search(follow)
            if loc:
                file = loc[1]
                path = (root / file).resolve() if not file.startswith("~lib/") else None
                name = given.get(path, _display(path)) if path is not None else file
                where = f"{name}:{loc[2]}:{loc[3]}: "
                break
        errors.append(f"{where}{match[1]} {match[2]}: {match[3]}")
    if not errors:
        failures = [ln.strip() for ln in lines if ln.strip().startswith("FAILURE")]
        text = failures[0] if failures else " ".join(stderr.split())[:500]
        errors.append(text or "asc failed without a message")
    return errors


def _option_int(options: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise CompileError(f"option {name} must be an integer from {low} to {high}, not {text!r}")
    return value


def asc_settings(settings: CompileSettings) -> dict[str, Any]:
    """The settings asc and wasm-opt run with (also recorded in the artifact).

    Options: ``optimize_level`` (asc, 0-3, default 3), ``shrink_level`` (asc, 0-2, default 0),
    ``no_assert`` (``true`` drops ``assert`` checks). ``settings.optimize`` adds wasm-opt -O3.
    """
    options = settings.options
    return {
        "runtime": "stub",
        "optimizeLevel": _option_int(options, "optimize_level", 3, 0, 3),
        "shrinkLevel": _option_int(options, "shrink_level", 0, 0, 2),
        "noAssert": options.get("no_assert", "").lower() in _TRUE,
        "optimize": settings.optimize,
    }


def asc_arguments(config: Mapping[str, Any], node_modules: Path) -> tuple[str, ...]:
    """asc's command-line arguments for ``config`` (besides entry, output and transform)."""
    args = [
        "--runtime", "stub",
        "--optimizeLevel", str(config["optimizeLevel"]),
        "--shrinkLevel", str(config["shrinkLevel"]),
        "--use", f"abort={ABORT}",
        "--path", str(node_modules),
        # Never read an asconfig.json: its entries and options would change what is built.
        "--config", NO_CONFIG,
    ]  # fmt: skip
    if config["noAssert"]:
        args.append("--noAssert")
    return tuple(args)


class AssemblyScriptCompiler(Compiler):
    """Compiles AssemblyScript contracts with asc and the ``@supervm/sdk`` transform into
    ``wasm`` artifacts, and scaffolds AssemblyScript projects."""

    suffixes = (".ts",)
    language = "as"
    templates = tuple(TEMPLATES)

    def handles(self, path: Path) -> bool:
        """``.ts`` files, but not ``.d.ts`` declarations."""
        return path.suffix == ".ts" and not is_library(path)

    def compile(self, sources: Sequence[Path], settings: CompileSettings) -> list[Artifact]:
        """Compile the contract entries among ``sources`` into one artifact each.

        Library files (no ``@contract`` class, no ``export function call``) are skipped; if no
        source is an entry that is a :class:`CompileError`. asc's errors are reported one per
        line as ``file:line:column: ERROR TSxxxx: message``.
        """
        given: dict[Path, str] = {}
        for path in sources:
            if self.handles(path):
                given.setdefault(path.resolve(), str(path))
        entries: list[tuple[Path, str]] = []
        for path, name in given.items():
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CompileError(f"{name}: {exc.strerror}") from None
            except UnicodeDecodeError as exc:
                raise CompileError(f"{name}: not UTF-8 text (byte {exc.start})") from None
            kind = entry_kind(text)
            if kind is not None:
                entries.append((path, kind))
            else:
                log.debug("%s: no @contract class and no `export function call`: skipped", name)
        if not entries:
            if not given:
                return []
            names = ", ".join(given.values())
            raise CompileError(
                f"{names}: no contract found: mark the contract class with @contract "
                "(import from @supervm/sdk), or export a `call` function"
            )

        config = asc_settings(settings)
        # node_modules above the sources, the working directory, and (last) this package: in
        # a SuperVM checkout that is the toolchain `make install` put next to it.
        starts = [*dict.fromkeys(p.parent for p, _ in entries), Path.cwd(), Path(__file__).parent]
        toolchain = find_toolchain(settings.node_modules, starts)
        args = asc_arguments(config, toolchain.node_modules)
        jobs = []
        roots = []
        for path, _kind in entries:
            root = project_root(path)
            roots.append(root)
            jobs.append(AscJob(path.relative_to(root).as_posix(), root, args))
        try:
            version, results = run_asc(toolchain, jobs)
        except AscCrash as crash:
            detail = " ".join(str(crash.args[0]).split())[:800]
            names = ", ".join(given[p] for p, _ in entries)
            raise CompileError(f"{names}: asc crashed: {detail}") from None

        artifacts: list[Artifact] = []
        seen: dict[str, Path] = {}
        for (path, kind), root, result in zip(entries, roots, results, strict=True):
            if result.wasm is None:
                raise CompileError("\n".join(describe_diagnostics(result.stderr, root, given)))
            if result.stderr.strip():
                log.debug("asc %s:\n%s", given[path], result.stderr)
            artifact = self._artifact(
                path, kind, root, result.wasm, given, toolchain, version, config, settings
            )
            if artifact.name in seen:
                raise CompileError(
                    f"{given[seen[artifact.name]]} and {given[path]} both define a contract named "
                    f"{artifact.name}: artifacts are named after their contract, rename one"
                )
            seen[artifact.name] = path
            artifacts.append(artifact)
        return artifacts

    def _artifact(
        self,
        path: Path,
        kind: str,
        root: Path,
        code: bytes,
        given: Mapping[Path, str],
        toolchain: Toolchain,
        version: str,
        config: Mapping[str, Any],
        settings: CompileSettings,
    ) -> Artifact:
        name = given[path]
        try:
            meta_raw = wasm.custom_sections(code).get(ABI_SECTION)
            meta: dict[str, Any] = json.loads(meta_raw) if meta_raw else {}
        except (wasm.WasmFormatError, ValueError) as exc:
            raise CompileError(f"{name}: asc produced an unreadable module: {exc}") from None
        if kind == "contract" and not meta.get("contract"):
            raise CompileError(
                f"{name}: no @contract class in this file (is it imported from another file?)"
            )
        recorded = dict(config)
        if settings.optimize:
            code = run_wasm_opt(toolchain, code)
            recorded["wasmOpt"] = {"flags": ["-O3"], "binaryen": wasm_opt_version(toolchain)}
        try:
            code = wasm.strip_custom_sections(code)
            code, start = wasm.remove_start(code)
        except wasm.WasmFormatError as exc:
            raise CompileError(f"{name}: cannot post-process the module: {exc}") from None
        if start == "exported":
            log.warning(
                "%s: top-level code runs before every call (exported as %s): move it into "
                "a @deploy method or make it lazy",
                name,
                wasm.INITIALIZE,
            )
        validate(code, settings.known_imports, name)
        # A create transaction's data is the bytecode followed by the ABI-encoded constructor
        # arguments, as for Solidity (so ethers' ContractFactory works unchanged): the marker
        # section tells the chain where the module ends.
        code = with_end_marker(code)
        contract = meta.get("contract") or _raw_name(path)
        sources = {name: keccak_hex(path.read_bytes())}
        for rel in meta.get("sources", ()):
            file = (root / rel).resolve()
            if file != path and file.is_file() and ".__supervm_generated." not in file.name:
                sources.setdefault(given.get(file, _display(file)), keccak_hex(file.read_bytes()))
        return Artifact(
            name=contract,
            kind="wasm",
            abi=tuple(meta.get("abi", ())),
            bytecode=code,
            code_hash=keccak_hex(code),
            source_hashes=sources,
            compiler=CompilerInfo("assemblyscript", version),
            settings=recorded,
        )

    def scaffold(self, name: str, dest: Path, template: str | None = None) -> list[Path]:
        """An AssemblyScript project: package.json, assembly/index.ts, tests/, README.md.

        ``template`` is ``counter`` (the default), ``erc20`` or ``hardhat``.
        """
        return write_project(name, dest, template or self.templates[0])


def _raw_name(path: Path) -> str:
    """The artifact name of a hand-written entry: its file name, or its project's for index.ts."""
    if path.stem != "index":
        return path.stem
    parent = path.parent.parent if path.parent.name == "assembly" else path.parent
    return parent.name or path.stem


def validate(code: bytes, known_imports: frozenset[tuple[str, str]], name: str) -> None:
    """Check a contract module's imports and exports; :class:`CompileError` naming the culprit."""
    known = known_imports or DOCUMENTED_IMPORTS
    try:
        imports = wasm.imports(code)
        exports = wasm.exports(code)
    except wasm.WasmFormatError as exc:
        raise CompileError(f"{name}: invalid WebAssembly module: {exc}") from None
    for imp in imports:
        where = f"{imp.module}.{imp.name}"
        if imp.kind != "function":
            raise CompileError(
                f"{name}: the contract imports {imp.kind} {where}; contracts may import only "
                "host functions"
            )
        if (imp.module, imp.name) not in known:
            hint = ""
            if imp.module == "env":
                hint = " (asc imports env.* for console, trace, Date and Math.random: remove them)"
            raise CompileError(
                f"{name}: the contract imports unknown host function {where}: no enabled "
                f"plugin defines it{hint}"
            )
        documented = HOST_FUNCTIONS.get(imp.name) if imp.module == MODULE else None
        if documented is not None and (imp.params, imp.results) != documented:
            raise CompileError(
                f"{name}: the contract imports {where} as {_sig(imp.params, imp.results)}, "
                f"but the host defines {_sig(*documented)}"
            )
    by_name = {e.name: e for e in exports}
    for export in exports:
        if export.name == "memory" and export.kind == "memory":
            continue
        if export.name in ENTRY_EXPORTS and export.kind == "function":
            continue
        raise CompileError(
            f"{name}: the contract exports {export.kind} {export.name!r}; a contract exports "
            "only call, deploy and memory (remove `export` from it in the entry file)"
        )
    if "call" not in by_name:
        raise CompileError(
            f"{name}: the contract exports no `call` function: mark the contract class "
            "@contract, or export a `call` function"
        )
    if "memory" not in by_name:
        raise CompileError(f"{name}: the contract exports no memory named 'memory'")
    for entry in ("call", "deploy", wasm.INITIALIZE):
        found = by_name.get(entry)
        if found is None:
            continue
        signature = wasm.function_type(code, found.index)
        if signature != ((), ()):
            raise CompileError(
                f"{name}: export {entry!r} must take and return nothing, not {_sig(*signature)}"
            )


def _sig(params: Sequence[str], results: Sequence[str]) -> str:
    return f"({', '.join(params)}) -> {', '.join(results) if results else '()'}"
