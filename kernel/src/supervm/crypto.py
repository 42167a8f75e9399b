"""Keccak-256, Ethereum's hash (the original Keccak padding, not FIPS SHA3-256), in one place.

:func:`keccak256` is what everything in the kernel and its plugins hashes with. It runs
pycryptodome's C Keccak directly on a reusable per-thread state when that is possible, and
pycryptodome's public API otherwise; both give the same digests (checked at import).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, TypeAlias

from Crypto.Hash import keccak as _keccak_mod

__all__ = ["Data", "Keccak256", "keccak256", "keccak256_hasher"]

#: What can be hashed: bytes, or any of the buffers callers hold.
Data: TypeAlias = bytes | bytearray | memoryview
#: A Keccak-256 function: data in, 32-byte digest out.
Keccak256: TypeAlias = Callable[[Data], bytes]


def _public_keccak256(data: Data) -> bytes:
    return _keccak_mod.new(data=data, digest_bits=256).digest()


def _raw_keccak_factory() -> Callable[[], Keccak256] | None:
    """A maker of fast Keccak-256 functions, each with its own reusable C state, or ``None``.

    ``keccak.new(...).digest()`` spends most of its time building Python objects around three C
    calls: measured 4.6 µs for 32 bytes, where calling pycryptodome's raw library on a state
    that is reset between messages costs 1.4 µs (eth_hash, backed by pycryptodome here: 5 µs).
    pycryptodome does not document that library, so it is checked once against the public API,
    and anything unexpected means the public API is used instead.
    """
    try:
        raw_api = importlib.import_module("Crypto.Util._raw_api")
        if getattr(raw_api, "backend", None) != "cffi":
            return None
        ffi: Any = raw_api.ffi
        lib: Any = getattr(_keccak_mod, "_raw_keccak_lib")  # noqa: B009 - private, untyped
        reset, absorb, digest, buffer = (
            lib.keccak_reset,
            lib.keccak_absorb,
            lib.keccak_digest,
            ffi.buffer,
        )

        def make() -> Keccak256:
            holder = ffi.new("void **")
            # 64-byte capacity (Keccak-256's rate is 200 - 64 = 136 bytes), 24 rounds.
            if lib.keccak_init(holder, 64, 24) != 0:
                raise MemoryError("keccak_init failed")
            state = ffi.gc(holder[0], lib.keccak_destroy)
            out = ffi.new("uint8_t[32]")
            view = buffer(out)  # made once: slicing it copies the digest out as bytes

            def fast(data: Data) -> bytes:
                reset(state)
                try:
                    absorb(state, data, len(data))
                except TypeError:
                    # cffi takes only bytes for uint8_t*; bytearray and memoryview go the
                    # public way (which also names a wrong type properly), at no cost to bytes,
                    # where checking the type first would cost every call.
                    return _public_keccak256(data)
                digest(state, out, 32, 1)  # 0x01: Keccak's padding (SHA3-256 uses 0x06)
                return view[:]  # type: ignore[no-any-return]

            return fast

        probe_fn = make()
        # Lengths around the 136-byte rate, where the padding spills into another block.
        for probe in (b"", b"abc", bytes(range(256)) * 3, b"x" * 135, b"y" * 136, b"z" * 137):
            if probe_fn(probe) != _public_keccak256(probe):
                return None
        return make
    except Exception:  # any surprise in a private API means: use the public one
        return None


_RAW_KECCAK = _raw_keccak_factory()


def keccak256_hasher() -> Keccak256:
    """A Keccak-256 function for one thread's use, for hot loops.

    The fast one keeps C state that cffi works on with the GIL released, so threads must not
    share it: make one per thread (or per operation). :func:`keccak256` does this for you at the
    cost of a thread-local lookup per call (measured ~40 ns).
    """
    return _public_keccak256 if _RAW_KECCAK is None else _RAW_KECCAK()


_tls = threading.local()


def keccak256(data: Data) -> bytes:
    """Keccak-256 (Ethereum's, not SHA3-256) of ``data``; safe to call from any thread."""
    try:
        fn: Keccak256 = _tls.keccak
    except AttributeError:
        fn = _tls.keccak = keccak256_hasher()
    return fn(data)
