"""The fuzz target (supervm_wasm_native.fuzzing) on random bytes and its seeds, without atheris:
every byte string is a case, both paths agree on it, and a difference would be reported."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm_wasm_native.differential import host_call_program
from supervm_wasm_native.fuzzing import MAX_CALLS, Mismatch, _same_block, check, corpus, decode


@pytest.fixture(scope="module")
def program() -> bytes:
    return bytes(wasmtime.wat2wasm(host_call_program()))


def test_every_byte_string_is_a_case() -> None:
    for data in (b"", b"\xff" * 3, bytes(range(256)), *corpus()):
        case = decode(data)
        assert 1 <= len(case.calls) <= MAX_CALLS and 1 <= case.threads <= 3
        assert decode(data) == case


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=400))
def test_random_inputs_agree(
    backends: Any, storage_factory: Any, program: bytes, data: bytes
) -> None:
    gc.collect()  # the Python path's failed calls hold pool slots until collected
    python, native = backends
    check(decode(data), python, native, program, storage_factory)


def test_seeds_agree(backends: Any, storage_factory: Any, program: bytes) -> None:
    python, native = backends
    for seed in corpus():
        check(decode(seed), python, native, program, storage_factory)


def test_a_difference_is_reported() -> None:
    class Outcome:
        results = (1,)
        changes = reads = writes = committed = ()

    class Other(Outcome):
        results = (2,)

    with pytest.raises(Mismatch, match="results differ"):
        _same_block(Outcome(), Other())
