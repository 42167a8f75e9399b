"""Conversion of the data model to JSON-ready structures, for the edges (CLI, RPC, files).

One cattrs converter owned by the kernel: bytes become 0x-hex strings, enums their values.
"""

from __future__ import annotations

from typing import Any

import cattrs

from supervm.model import ErrorKind, ExecutionError, ExecutionResult
from supervm.plugins.loading import PluginInfo


def make_converter() -> cattrs.Converter:
    """The kernel's converter: bytes as 0x-hex, errors as ``"kind: message"`` strings."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(bytes, lambda b: "0x" + b.hex())
    converter.register_structure_hook(bytes, lambda v, _t: bytes.fromhex(v.removeprefix("0x")))
    converter.register_unstructure_hook(ErrorKind, lambda k: k.value)
    converter.register_unstructure_hook(ExecutionError, str)
    converter.register_unstructure_hook(
        frozenset, lambda s: sorted(converter.unstructure(x) for x in s)
    )
    return converter


def result_to_json(
    result: ExecutionResult, converter: cattrs.Converter | None = None
) -> dict[str, Any]:
    """The ``supervm wasm run --json`` shape of a result.

    ``{"ok", "value", "return_data", "events", "logs", "gas_used", "error"}``: events are the
    0x-hex data of each event, logs are ``{"address", "topics", "data"}``.
    """
    c = converter or make_converter()
    return {
        "ok": result.ok,
        "value": result.value,
        "return_data": c.unstructure(result.return_data),
        "events": [c.unstructure(e.data) for e in result.events],
        "logs": [c.unstructure(log) for log in result.logs],
        "gas_used": result.gas_used,
        "error": None if result.error is None else str(result.error),
    }


def plugin_to_json(info: PluginInfo, converter: cattrs.Converter | None = None) -> dict[str, Any]:
    """The ``supervm plugins --json`` shape of one plugin."""
    c = converter or make_converter()
    data: dict[str, Any] = c.unstructure(info)
    data["hooks"] = list(info.hooks)
    return data
