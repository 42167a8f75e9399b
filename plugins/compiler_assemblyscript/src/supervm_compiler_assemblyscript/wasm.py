"""Reading and rewriting the few parts of a WebAssembly binary the compiler needs.

After asc (and wasm-opt) the compiler takes the contract's ABI out of its custom section, strips
every custom section, removes the start function (SuperVM instantiates a module on every call,
so a start function would run on every call) and checks imports and exports. Only the sections
involved are parsed; everything else is copied byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
from supervm.execution.wasm_binary import (  # noqa: F401 - re-exported for the compiler and its tests
    CODE,
    CUSTOM,
    ELEMENT,
    EXPORT,
    FUNCTION,
    GLOBAL,
    IMPORT,
    KINDS,
    MAGIC,
    MEMORY,
    START,
    TABLE,
    TYPE,
    VALTYPES,
    VERSION,
    Section,
    WasmFormatError,
    assemble,
    custom_sections,
    encode_name,
    encode_vec,
    read_name,
    read_s,
    read_u,
    sections,
    strip_custom_sections,
    write_s,
    write_u,
)

#: Name of the export a start function becomes when it cannot be folded away.
INITIALIZE = "_initialize"

# Opcodes of the constant instructions a foldable start function may consist of.
_I32_CONST, _I64_CONST, _GLOBAL_SET, _END = 0x41, 0x42, 0x24, 0x0B


@attrs.frozen
class Import:
    """One import: ``module.name``, its kind and, for functions, its signature."""

    module: str
    name: str
    kind: str
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()


@attrs.frozen
class Export:
    """One export: its name, kind and index."""

    name: str
    kind: str
    index: int


def _types(payload: bytes) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    count, pos = read_u(payload, 0)
    types = []
    for _ in range(count):
        if payload[pos] != 0x60:
            raise WasmFormatError("unsupported type form")
        pos += 1
        sig: list[tuple[str, ...]] = []
        for _part in range(2):
            n, pos = read_u(payload, pos)
            sig.append(
                tuple(VALTYPES.get(payload[pos + i], hex(payload[pos + i])) for i in range(n))
            )
            pos += n
        types.append((sig[0], sig[1]))
    return types


def _skip_limits(payload: bytes, pos: int) -> int:
    flags, pos = read_u(payload, pos)
    _minimum, pos = read_u(payload, pos)
    if flags & 1:
        _maximum, pos = read_u(payload, pos)
    return pos


def imports(code: bytes) -> list[Import]:
    """The module's imports, with function signatures."""
    parts = sections(code)
    types = next((_types(s.payload) for s in parts if s.id == TYPE), [])
    out: list[Import] = []
    for section in parts:
        if section.id != IMPORT:
            continue
        payload = section.payload
        count, pos = read_u(payload, 0)
        for _ in range(count):
            module, pos = read_name(payload, pos)
            name, pos = read_name(payload, pos)
            kind = payload[pos]
            pos += 1
            if kind == 0:
                index, pos = read_u(payload, pos)
                params, results = types[index] if index < len(types) else ((), ())
                out.append(Import(module, name, "function", params, results))
                continue
            if kind == 1:
                pos = _skip_limits(payload, pos + 1)
            elif kind == 2:
                pos = _skip_limits(payload, pos)
            elif kind == 3:
                pos += 2
            elif kind == 4:
                _attr, pos = read_u(payload, pos + 1)
            else:
                raise WasmFormatError(f"unknown import kind {kind}")
            out.append(Import(module, name, KINDS.get(kind, str(kind))))
    return out


def exports(code: bytes) -> list[Export]:
    """The module's exports."""
    out: list[Export] = []
    for section in sections(code):
        if section.id != EXPORT:
            continue
        payload = section.payload
        count, pos = read_u(payload, 0)
        for _ in range(count):
            name, pos = read_name(payload, pos)
            kind = payload[pos]
            index, pos = read_u(payload, pos + 1)
            out.append(Export(name, KINDS.get(kind, str(kind)), index))
    return out


def _function_bodies(parts: list[Section]) -> Iterator[bytes]:
    for section in parts:
        if section.id == CODE:
            count, pos = read_u(section.payload, 0)
            for _ in range(count):
                size, pos = read_u(section.payload, pos)
                yield section.payload[pos : pos + size]
                pos += size


def _imported_functions(parts: list[Section]) -> int:
    n = 0
    for section in parts:
        if section.id == IMPORT:
            count, pos = read_u(section.payload, 0)
            for _ in range(count):
                _m, pos = read_name(section.payload, pos)
                _n, pos = read_name(section.payload, pos)
                kind = section.payload[pos]
                pos += 1
                if kind == 0:
                    _i, pos = read_u(section.payload, pos)
                    n += 1
                elif kind == 1:
                    pos = _skip_limits(section.payload, pos + 1)
                elif kind == 2:
                    pos = _skip_limits(section.payload, pos)
                elif kind == 3:
                    pos += 2
                elif kind == 4:
                    _a, pos = read_u(section.payload, pos + 1)
    return n


def _constant_sets(body: bytes) -> list[tuple[int, int, int]] | None:
    """``[(global, opcode, value)]`` if ``body`` only sets globals to constants, else None."""
    n_locals, pos = read_u(body, 0)
    if n_locals:
        return None
    sets: list[tuple[int, int, int]] = []
    while pos < len(body):
        op = body[pos]
        if op == _END and pos == len(body) - 1:
            return sets
        if op not in (_I32_CONST, _I64_CONST):
            return None
        value, pos = read_s(body, pos + 1)
        if pos >= len(body) or body[pos] != _GLOBAL_SET:
            return None
        index, pos = read_u(body, pos + 1)
        sets.append((index, op, value))
    return None


def _rewrite_globals(payload: bytes, sets: dict[int, tuple[int, int]], imported: int) -> bytes:
    """The global section with the init expressions of ``sets`` (index -> (opcode, value))."""
    count, pos = read_u(payload, 0)
    entries = []
    for i in range(count):
        start = pos
        valtype, mutable = payload[pos], payload[pos + 1]
        pos += 2
        # A global's init expression: constant instructions up to `end`.
        while payload[pos] != _END:
            op = payload[pos]
            if op in (_I32_CONST, _I64_CONST):
                _v, pos = read_s(payload, pos + 1)
            elif op == 0x23:  # global.get
                _g, pos = read_u(payload, pos + 1)
            elif op == 0x43:  # f32.const
                pos += 5
            elif op == 0x44:  # f64.const
                pos += 9
            else:
                raise WasmFormatError(f"unsupported opcode 0x{op:02x} in a global initializer")
        pos += 1
        index = imported + i
        if index in sets:
            opcode, value = sets[index]
            expected = 0x7F if opcode == _I32_CONST else 0x7E
            if valtype != expected or not mutable:
                raise WasmFormatError(f"start function sets global {index} of another type")
            entries.append(bytes([valtype, mutable, opcode]) + write_s(value) + bytes([_END]))
        else:
            entries.append(payload[start:pos])
    return encode_vec(entries)


def _imported_globals(parts: list[Section]) -> int:
    return sum(1 for imp in imports(assemble(parts)) if imp.kind == "global")


def remove_start(code: bytes) -> tuple[bytes, str]:
    """``code`` without a start section: ``(code, how)``.

    A start function that only sets globals to constants (asc's stub runtime setting its heap
    pointer) is folded into the globals' initial values (``how`` = ``"folded"``); any other start
    function becomes the export ``_initialize``, which SuperVM runs before each entry point
    (``"exported"``). Without a start section the code is returned as is (``"none"``).
    """
    parts = sections(code)
    start = next((s for s in parts if s.id == START), None)
    if start is None:
        return code, "none"
    function, _ = read_u(start.payload, 0)
    imported = _imported_functions(parts)
    sets = None
    if function >= imported:
        bodies = list(_function_bodies(parts))
        if function - imported < len(bodies):
            sets = _constant_sets(bodies[function - imported])
    if sets is not None:
        last: dict[int, tuple[int, int]] = {}
        for index, opcode, value in sets:
            last[index] = (opcode, value)
        imported_globals = _imported_globals(parts)
        if all(index >= imported_globals for index in last):
            out = []
            for section in parts:
                if section.id == START:
                    continue
                if section.id == GLOBAL:
                    section = Section(
                        GLOBAL, _rewrite_globals(section.payload, last, imported_globals)
                    )
                out.append(section)
            return assemble(out), "folded"
    if any(e.name == INITIALIZE for e in exports(code)):
        raise WasmFormatError(f"module has both a start function and an export {INITIALIZE!r}")
    out = []
    has_export = any(s.id == EXPORT for s in parts)
    for section in parts:
        if section.id == START:
            continue
        if section.id == EXPORT:
            count, pos = read_u(section.payload, 0)
            entry = encode_name(INITIALIZE) + b"\x00" + write_u(function)
            section = Section(EXPORT, write_u(count + 1) + section.payload[pos:] + entry)
        out.append(section)
    if not has_export:
        # Sections must stay in order: the export section goes after the global section.
        order = [TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL]
        at = max((i for i, s in enumerate(out) if s.id in order), default=-1) + 1
        entry = encode_name(INITIALIZE) + b"\x00" + write_u(function)
        out.insert(at, Section(EXPORT, write_u(1) + entry))
    return assemble(out), "exported"


def function_type(code: bytes, index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (params, results) of function ``index`` (imported functions first)."""
    parts = sections(code)
    types = next((_types(s.payload) for s in parts if s.id == TYPE), [])
    imported = [i for i in imports(code) if i.kind == "function"]
    if index < len(imported):
        return imported[index].params, imported[index].results
    for section in parts:
        if section.id == FUNCTION:
            count, pos = read_u(section.payload, 0)
            for i in range(count):
                type_index, pos = read_u(section.payload, pos)
                if len(imported) + i == index:
                    if type_index >= len(types):
                        raise WasmFormatError(f"function {index} has an unknown type")
                    return types[type_index]
    raise WasmFormatError(f"no function {index}")
