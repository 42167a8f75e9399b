"""Loading WASM modules: validation against the host ABI and the compiled-module cache.

Compiling is 30-100x slower than deserialising a compiled module, so compiled modules are
cached by code hash and engine fingerprint in memory and on disk.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import wasmtime
from supervm import HostFunction, ModuleError

from . import raw, sections

log = logging.getLogger("supervm.wasm")

WASM_MAGIC = b"\0asm"
#: Version of the cache file layout (2: a SHA-256 of the payload, then the payload); part of the
#: cache directory's name, so files of another layout are never read.
CACHE_FORMAT = 2
#: Export run after every instantiation, before the entry point (the WASI reactor convention).
INITIALIZE = "_initialize"
PAGE = 65536
_VALTYPES = {"i32": "i32", "i64": "i64", "f32": "f32", "f64": "f64"}


@attrs.frozen
class LoadedModule:
    """A validated, compiled and pre-linked module.

    :param code_hash: SHA-256 of the module bytes.
    :param module: the compiled module.
    :param pre: the pre-linked instance template (a C handle).
    :param exports: exported functions: name -> (param types, result types).
    :param memory_min: initial size in bytes of the exported memory (0 if none).
    :param has_memory: the module exports a memory named ``memory``.
    :param has_initialize: the module exports ``_initialize``, run after each instantiation.
    :param buffers: argument buffers of argument-less exports, reused across calls.
    """

    code_hash: bytes
    module: wasmtime.Module
    pre: Any
    exports: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    memory_min: int
    has_memory: bool = False
    has_initialize: bool = False
    buffers: dict[str, Any] = attrs.field(factory=dict, eq=False)
    names: Mapping[str, bytes] = attrs.field(factory=dict, eq=False)


def _valtype(t: wasmtime.ValType) -> str:
    return str(t)


def _signature(params: Sequence[str], results: Sequence[str]) -> str:
    res = ", ".join(results) if results else "()"
    return f"({', '.join(params)}) -> {res}"


def default_cache_dir() -> Path:
    """``$SUPERVM_CACHE_DIR`` or ``$XDG_CACHE_HOME/supervm`` (``~/.cache/supervm``)."""
    env = os.environ.get("SUPERVM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "supervm"


class ModuleCache:
    """Validates and compiles modules, caching them in memory and on disk."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        linker: raw.Linker,
        host_functions: Sequence[HostFunction],
        *,
        engine_fingerprint: str,
        max_code_size: int,
        max_memory: int,
        cache_dir: Path | None,
        max_entries: int = 512,
    ) -> None:
        self._engine = engine
        self._linker = linker
        self._host = {(f.module, f.name): f for f in host_functions}
        self._max_code_size = max_code_size
        self._max_memory = max_memory
        self._max_entries = max_entries
        self._by_code: dict[bytes, LoadedModule] = {}
        version = importlib.metadata.version("wasmtime")
        key = f"{CACHE_FORMAT}|{version}|{engine_fingerprint}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self._disk = cache_dir / f"wasmtime-{version}-{digest}" if cache_dir else None
        self.compiled = 0
        self.deserialized = 0

    def get(self, code: bytes) -> LoadedModule:
        """The loaded module for ``code``; raises :class:`ModuleError` for bad code."""
        if type(code) is not bytes:
            if not isinstance(code, bytes | bytearray | memoryview):
                raise ModuleError(f"module code must be bytes, not {type(code).__name__}")
            code = bytes(code)
        loaded = self._by_code.get(code)
        if loaded is None:
            loaded = self._load(code)
            if len(self._by_code) >= self._max_entries:
                oldest = next(iter(self._by_code))
                raw.delete_instance_pre(self._by_code.pop(oldest).pre)
            self._by_code[code] = loaded
        return loaded

    def _load(self, code: bytes) -> LoadedModule:
        if code[:4] != WASM_MAGIC:
            raise ModuleError("not a WebAssembly module: it does not start with the \\0asm magic")
        if len(code) > self._max_code_size:
            raise ModuleError(
                f"module of {len(code)} bytes exceeds the code size limit of "
                f"{self._max_code_size} bytes"
            )
        facts = sections.scan(code)
        if facts is not None:
            self._check_sections(facts)
        code_hash = hashlib.sha256(code).digest()
        module = self._compile(code, code_hash)
        self._check_imports(module)
        exports, memory_min, has_memory = self._exports(module)
        try:
            pre = self._linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise ModuleError(f"module cannot be linked: {_first_line(exc)}") from None
        init = exports.get(INITIALIZE)
        if init is not None and init != ((), ()):
            raise ModuleError(f"export '{INITIALIZE}' must take and return nothing")
        names = {name: name.encode() for name in exports}
        return LoadedModule(
            code_hash,
            module,
            pre,
            exports,
            memory_min,
            has_memory=has_memory,
            has_initialize=init is not None,
            names=names,
        )

    def _check_sections(self, facts: sections.SectionFacts) -> None:
        if facts.has_start:
            raise ModuleError(
                "module has a start function, which would run on every call; export it as "
                f"'{INITIALIZE}' instead (asc: --exportStart {INITIALIZE}) and use 'deploy' "
                "for one-time setup"
            )
        for pages in facts.memory_min_pages:
            if pages * PAGE > self._max_memory:
                raise ModuleError(
                    f"module memory starts at {pages * PAGE} bytes, above the limit of "
                    f"{self._max_memory} bytes"
                )

    def _compile(self, code: bytes, code_hash: bytes) -> wasmtime.Module:
        path = self._disk / f"{code_hash.hex()}.cwasm" if self._disk else None
        if path is not None and path.exists():
            try:
                blob = path.read_bytes()
                # Deserialising trusts its input: only accept bytes whose digest we wrote.
                digest, payload = blob[:32], blob[32:]
                if len(blob) <= 32 or hashlib.sha256(payload).digest() != digest:
                    raise ValueError("checksum mismatch")
                module = wasmtime.Module.deserialize(self._engine, payload)
                self.deserialized += 1
                return module
            except (wasmtime.WasmtimeError, OSError, ValueError) as exc:
                log.warning("ignoring unusable cached module %s: %s", path, _first_line(exc))
        try:
            module = wasmtime.Module(self._engine, code)
        except wasmtime.WasmtimeError as exc:
            raise ModuleError(f"invalid WebAssembly module: {_first_line(exc)}") from None
        self.compiled += 1
        if path is not None:
            self._store(path, module)
        return module

    @staticmethod
    def _store(path: Path, module: wasmtime.Module) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            payload = bytes(module.serialize())
            with os.fdopen(fd, "wb") as f:
                f.write(hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)  # atomic: readers see the old file or the whole new one
        except OSError as exc:
            log.warning("could not cache compiled module in %s: %s", path.parent, exc)

    def _check_imports(self, module: wasmtime.Module) -> None:
        for imp in module.imports:
            where = f"{imp.module}.{imp.name}"
            ty = imp.type
            if not isinstance(ty, wasmtime.FuncType):
                kind = type(ty).__name__.removesuffix("Type").lower()
                raise ModuleError(
                    f"module imports {kind} {where}; only host functions can be imported"
                )
            fn = self._host.get((imp.module, imp.name or ""))
            if fn is None:
                raise ModuleError(f"module imports unknown host function {where}")
            params = tuple(_valtype(t) for t in ty.params)
            results = tuple(_valtype(t) for t in ty.results)
            if params != fn.params or results != fn.results:
                raise ModuleError(
                    f"module imports {where} as {_signature(params, results)}, "
                    f"but the host defines {_signature(fn.params, fn.results)}"
                )

    def _exports(
        self, module: wasmtime.Module
    ) -> tuple[dict[str, tuple[tuple[str, ...], tuple[str, ...]]], int, bool]:
        exports: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        memory_min = 0
        has_memory = False
        for exp in module.exports:
            ty = exp.type
            if isinstance(ty, wasmtime.FuncType):
                params = tuple(_valtype(t) for t in ty.params)
                results = tuple(_valtype(t) for t in ty.results)
                exports[exp.name] = (params, results)
            elif isinstance(ty, wasmtime.MemoryType) and exp.name == "memory":
                has_memory = True
                memory_min = ty.limits.min * PAGE
        return exports, memory_min, has_memory

    def close(self) -> None:
        """Free the pre-linked instance templates."""
        for loaded in self._by_code.values():
            raw.delete_instance_pre(loaded.pre)
        self._by_code.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
