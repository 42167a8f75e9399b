"""docs/host-abi.md must document every host function exactly as the code defines it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from supervm_wasm_wasmtime.abi import core_functions
from supervm_wasm_wasmtime.calls import call_functions
from supervm_wasm_wasmtime.crypto import crypto_functions

DOC = Path(__file__).resolve().parents[3] / "docs" / "host-abi.md"
FUNCTIONS = [*core_functions(), *call_functions(), *crypto_functions()]


def _section(name: str) -> str:
    text = DOC.read_text()
    match = re.search(rf"^### {re.escape(name)}\n(.*?)(?=^##|\Z)", text, re.S | re.M)
    assert match, f"docs/host-abi.md has no '### {name}' section"
    return " ".join(match.group(1).split())


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.name)
def test_function_is_documented_with_its_signature_and_gas(fn) -> None:  # type: ignore[no-untyped-def]
    section = _section(fn.name)
    assert f"signature `{fn.signature}`" in section
    assert f"gas {fn.gas}" in section


def test_no_undocumented_or_stale_sections() -> None:
    documented = set(re.findall(r"^### (\w+)$", DOC.read_text(), re.M))
    assert documented == {f.name for f in FUNCTIONS}
