"""The C Keccak-256 and SHA-256 equal the kernel's and hashlib's on any input."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm.crypto import keccak256


def test_known_vectors(native: Any) -> None:
    k, s = native.keccak256, native.sha256
    assert k(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert k(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    assert s(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# Lengths around the block sizes (136 for Keccak-256, 64 for SHA-256) are where padding breaks.
EDGES = [0, 1, 55, 56, 63, 64, 65, 119, 120, 135, 136, 137, 271, 272, 273, 1000]


@pytest.mark.parametrize("n", EDGES)
def test_block_boundaries(native: Any, n: int) -> None:
    data = bytes(range(256)) * 4
    assert native.keccak256(data[:n]) == keccak256(data[:n])
    assert native.sha256(data[:n]) == hashlib.sha256(data[:n]).digest()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000))
def test_equal_to_the_reference_implementations(native: Any, data: bytes) -> None:
    assert native.keccak256(data) == keccak256(data)
    assert native.sha256(data) == hashlib.sha256(data).digest()
