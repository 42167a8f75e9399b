"""Reading and writing the WebAssembly binary format: LEB128 and sections.

Just enough of the format for SuperVM's checks and rewrites (the runtime's load-time checks, the
AssemblyScript compiler's post-processing); validation proper is wasmtime's.
"""

from __future__ import annotations

import attrs

MAGIC = b"\0asm"
VERSION = b"\x01\x00\x00\x00"

CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT, START, ELEMENT, CODE = range(11)
KINDS = {0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}


class WasmFormatError(ValueError):
    """The bytes are not a WebAssembly module this reader understands."""


@attrs.frozen
class Section:
    """A raw section: id and payload."""

    id: int
    payload: bytes


# -- LEB128 -----------------------------------------------------------------------------------


def read_u(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 at ``pos``: (value, next position)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WasmFormatError("LEB128 too long")


def read_s(data: bytes, pos: int) -> tuple[int, int]:
    """A signed LEB128 at ``pos``: (value, next position)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WasmFormatError("truncated LEB128")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos
        if shift > 70:
            raise WasmFormatError("LEB128 too long")


def write_u(value: int) -> bytes:
    """Unsigned LEB128 of ``value``."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def write_s(value: int) -> bytes:
    """Signed LEB128 of ``value``."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def read_name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = read_u(data, pos)
    if pos + n > len(data):
        raise WasmFormatError("truncated name")
    try:
        return data[pos : pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError:
        raise WasmFormatError("name is not UTF-8") from None


def encode_vec(items: list[bytes]) -> bytes:
    return write_u(len(items)) + b"".join(items)


def encode_name(name: str) -> bytes:
    raw = name.encode()
    return write_u(len(raw)) + raw


# -- modules ----------------------------------------------------------------------------------


def sections(code: bytes) -> list[Section]:
    """The sections of ``code``, in order."""
    if code[:4] != MAGIC:
        raise WasmFormatError("not a WebAssembly module (no \\0asm magic)")
    if code[4:8] != VERSION:
        raise WasmFormatError("unsupported WebAssembly version")
    out = []
    pos = 8
    while pos < len(code):
        section_id = code[pos]
        size, pos = read_u(code, pos + 1)
        if pos + size > len(code):
            raise WasmFormatError(f"section {section_id} runs past the end of the module")
        out.append(Section(section_id, code[pos : pos + size]))
        pos += size
    return out


def assemble(parts: list[Section]) -> bytes:
    """A module from sections."""
    body = b"".join(bytes([s.id]) + write_u(len(s.payload)) + s.payload for s in parts)
    return MAGIC + VERSION + body


def custom_sections(code: bytes) -> dict[str, bytes]:
    """Custom section name -> payload."""
    found = {}
    for section in sections(code):
        if section.id == CUSTOM:
            name, pos = read_name(section.payload, 0)
            found[name] = section.payload[pos:]
    return found


def strip_custom_sections(code: bytes) -> bytes:
    """``code`` without custom sections (names, producers, source maps, the ABI)."""
    return assemble([s for s in sections(code) if s.id != CUSTOM])


#: The custom section that ends a deployable module: what follows it in a create transaction's
#: data is the ABI-encoded constructor arguments. (A module has no length field of its own, and
#: ABI words could pass for sections; the marker makes the split unambiguous.)
END_MARKER = "supervm.end"


def with_end_marker(module: bytes) -> bytes:
    """``module`` ending with the :data:`END_MARKER` section (unchanged if it already does)."""
    if _ends_with_marker(module):
        return module
    return (
        module + bytes([CUSTOM]) + write_u(len(encode_name(END_MARKER))) + encode_name(END_MARKER)
    )


def _ends_with_marker(module: bytes) -> bool:
    last = sections(module)[-1:] if len(module) > 8 else []
    return bool(last) and last[0].id == CUSTOM and read_name(last[0].payload, 0)[0] == END_MARKER


def split_create_data(data: bytes) -> tuple[bytes, bytes]:
    """A WASM create transaction's data as (module, constructor arguments).

    The module runs up to and including its :data:`END_MARKER` section; without one the whole
    data is the module and there are no arguments.
    """
    if data[:4] != MAGIC or data[4:8] != VERSION:
        raise WasmFormatError("not a WebAssembly module (no \\0asm magic and version 1)")
    pos = 8
    while pos < len(data):
        section_id = data[pos]
        size, start = read_u(data, pos + 1)
        end = start + size
        if end > len(data):
            break  # no marker: the rest is the module, and the runtime names what is wrong
        if section_id == CUSTOM:
            name, _ = read_name(data[start:end], 0)
            if name == END_MARKER:
                return data[:end], data[end:]
        pos = end
    return data, b""
