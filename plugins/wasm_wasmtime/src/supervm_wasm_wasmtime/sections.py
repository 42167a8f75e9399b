"""A minimal reader of WebAssembly binary sections, for checks wasmtime does not report.

Only what loading needs: whether the module has a start function, and the declared limits of
the memories it defines. Anything malformed is left for wasmtime's validator to name.
"""

from __future__ import annotations

import attrs

START_SECTION = 8
MEMORY_SECTION = 5
PAGE = 65536


@attrs.frozen
class SectionFacts:
    """What the scanner found.

    :param has_start: the module declares a start function.
    :param memory_min_pages: the minimum page count of each memory it defines.
    """

    has_start: bool
    memory_min_pages: tuple[int, ...]


def _leb_u(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("LEB128 too long")


def scan(code: bytes) -> SectionFacts | None:
    """Scan ``code``'s sections; ``None`` if it is too malformed to scan."""
    try:
        pos = 8  # magic and version
        has_start = False
        minimums: list[int] = []
        while pos < len(code):
            section_id = code[pos]
            size, pos = _leb_u(code, pos + 1)
            body_end = pos + size
            if body_end > len(code):
                return None
            if section_id == START_SECTION:
                has_start = True
            elif section_id == MEMORY_SECTION:
                count, p = _leb_u(code, pos)
                for _ in range(count):
                    flags, p = _leb_u(code, p)
                    minimum, p = _leb_u(code, p)
                    if flags & 1:
                        _maximum, p = _leb_u(code, p)
                    minimums.append(minimum)
            pos = body_end
        return SectionFacts(has_start, tuple(minimums))
    except (ValueError, IndexError):
        return None
