"""Load-time facts about a module that wasmtime does not report.

Whether the module has a start function, and the declared minimum of the memories it defines
(so that a too-large memory is named as such, before the pooling allocator rejects it in its
own words). Anything malformed is left for wasmtime's validator to name.
"""

from __future__ import annotations

import attrs
from supervm.execution.wasm_binary import MEMORY, START, WasmFormatError, read_u, sections

PAGE = 65536


@attrs.frozen
class SectionFacts:
    """What the scan found.

    :param has_start: the module declares a start function.
    :param memory_min_pages: the minimum page count of each memory it defines.
    """

    has_start: bool
    memory_min_pages: tuple[int, ...]


def scan(code: bytes) -> SectionFacts | None:
    """Scan ``code``'s sections; ``None`` if it is too malformed to scan."""
    try:
        parts = sections(code)
        minimums: list[int] = []
        for section in parts:
            if section.id != MEMORY:
                continue
            count, pos = read_u(section.payload, 0)
            for _ in range(count):
                flags, pos = read_u(section.payload, pos)
                minimum, pos = read_u(section.payload, pos)
                if flags & 1:
                    _maximum, pos = read_u(section.payload, pos)
                minimums.append(minimum)
        return SectionFacts(any(s.id == START for s in parts), tuple(minimums))
    except (WasmFormatError, IndexError):
        return None
