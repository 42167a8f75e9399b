"""The one Keccak-256: known vectors, pycryptodome's public API, threads and the fallback."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import eth_hash.auto
import pytest
from Crypto.Hash import keccak
from hypothesis import given
from hypothesis import strategies as st
from supervm import crypto
from supervm.crypto import keccak256, keccak256_hasher


def reference(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        (
            b"The quick brown fox jumps over the lazy dog",
            "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15",
        ),
        # The ERC20 Transfer event's topic0.
        (
            b"Transfer(address,address,uint256)",
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
        ),
    ],
)
def test_known_vectors(data: bytes, digest: str) -> None:
    assert keccak256(data).hex() == digest
    assert keccak256_hasher()(data).hex() == digest


def test_not_sha3_256() -> None:
    import hashlib

    assert keccak256(b"") != hashlib.sha3_256(b"").digest()


@given(st.binary(max_size=600))
def test_matches_pycryptodome(data: bytes) -> None:
    assert keccak256(data) == reference(data)


# Every length up to two 136-byte blocks and a bit: where the padding spills into another block.
@given(st.integers(0, 2 * 136 + 2), st.integers(0, 255))
def test_matches_pycryptodome_at_every_length_near_the_rate(length: int, fill: int) -> None:
    data = bytes([fill]) * length
    assert keccak256(data) == reference(data) == eth_hash.auto.keccak(data)


def test_one_hasher_hashes_many_messages() -> None:
    # The fast hasher reuses one state: each message must start from a clean one.
    h = keccak256_hasher()
    for data in (b"x" * 300, b"", b"abc", b"y" * 136, b"abc"):
        assert h(data) == reference(data)


@pytest.mark.parametrize(
    "data", [bytearray(b"abc"), memoryview(b"abc"), memoryview(b"xabcx")[1:4]], ids=type
)
def test_other_buffers(data: Any) -> None:
    assert keccak256(data) == reference(b"abc")
    assert keccak256_hasher()(data) == reference(b"abc")


def test_a_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        keccak256("abc")  # type: ignore[arg-type]


def test_threads_do_not_share_a_state() -> None:
    messages = [bytes([i]) * (i * 7) for i in range(64)]
    expected = [reference(m) for m in messages]
    failures: list[int] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(200):
            for i, m in enumerate(messages):
                if keccak256(m) != expected[i]:
                    failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_the_fast_path_is_taken_with_cffi() -> None:
    # pycryptodome on cffi (as installed here): a silent fall back would cost ~3x per hash.
    if importlib.import_module("Crypto.Util._raw_api").backend == "cffi":
        assert crypto._RAW_KECCAK is not None


def test_fallback_without_cffi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("Crypto.Util._raw_api"), "backend", "ctypes")
    assert crypto._raw_keccak_factory() is None
    monkeypatch.setattr(crypto, "_RAW_KECCAK", None)
    assert keccak256_hasher() is crypto._public_keccak256
    assert keccak256_hasher()(b"") == reference(b"")


def test_fallback_when_the_private_library_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(keccak, "_raw_keccak_lib")
    assert crypto._raw_keccak_factory() is None


# -- the callers use this one ---------------------------------------------------------------


def test_the_kernel_and_the_wasm_plugin_hash_with_it() -> None:
    import supervm
    from supervm.state import keys
    from supervm_wasm_wasmtime import crypto as wasm_crypto

    assert supervm.keccak256 is keccak256
    assert keys.keccak256 is keccak256
    assert vars(wasm_crypto)["_keccak256"] is keccak256


def test_abi_selectors_and_topics() -> None:
    from supervm.tooling.abi import event_topic, selector

    assert selector("transfer(address,uint256)").hex() == "a9059cbb"
    assert selector({"name": "balanceOf", "inputs": [{"type": "address"}]}).hex() == "70a08231"
    transfer = {
        "name": "Transfer",
        "inputs": [{"type": "address"}, {"type": "address"}, {"type": "uint256"}],
    }
    assert event_topic(transfer) == keccak256(b"Transfer(address,address,uint256)")
    assert event_topic(transfer).hex().startswith("ddf252ad")


@given(st.binary(max_size=300))
def test_keccak_hex_is_keccak256_in_hex(data: bytes) -> None:
    from supervm.tooling.compilers import keccak_hex

    assert keccak_hex(data) == "0x" + reference(data).hex()
