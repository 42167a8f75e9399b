"""The SDK's host bindings, the plugin's list of host functions, the docs and the runtime agree."""

from __future__ import annotations

import re
from pathlib import Path

from supervm import Kernel
from supervm_compiler_assemblyscript.hostabi import HOST_FUNCTIONS, MODULE

REPO = Path(__file__).resolve().parents[3]
ENV_TS = REPO / "sdk" / "assemblyscript" / "assembly" / "env.ts"
DOCS = REPO / "docs" / "host-abi.md"
AS_TYPES = {"usize": "i32", "i32": "i32", "i64": "i64"}


def test_the_documented_functions_are_the_plugins() -> None:
    documented = re.findall(r"^### (\w+)$", DOCS.read_text(), re.MULTILINE)
    assert documented == list(HOST_FUNCTIONS)


def test_the_runtime_defines_them_with_these_signatures(kernel: Kernel) -> None:
    defined = {f.name: (f.params, f.results) for f in kernel.host_functions() if f.module == MODULE}
    for name, signature in HOST_FUNCTIONS.items():
        assert defined.get(name) == signature, name


def test_the_sdk_binds_every_host_function_with_its_signature() -> None:
    text = ENV_TS.read_text()
    pattern = re.compile(
        r'@external\("supervm", "(\w+)"\)\s+export declare function (\w+)\(([^)]*)\): (\w+);'
    )
    bound = {}
    for name, fn, params, result in pattern.findall(text):
        assert fn == name
        types = tuple(AS_TYPES[p.split(":")[1].strip()] for p in params.split(",") if p.strip())
        bound[name] = (types, () if result == "void" else (AS_TYPES[result],))
    assert bound == HOST_FUNCTIONS
