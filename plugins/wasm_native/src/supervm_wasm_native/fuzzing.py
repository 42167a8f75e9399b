"""The fuzz target: fuzzer bytes into host-call programs, run on both paths, compared.

:func:`decode` turns arbitrary bytes into a :class:`FuzzCase`: a block of calls of the
interpreter contract (:func:`~.differential.host_call_program`) whose host calls take hostile
pointers and lengths (small numbers, the edges of memory and of 32 bits, raw words), with gas
limits and initial storage. :func:`check` runs every call on the Python and the native path
and the whole block on the native block executor, and raises :class:`Mismatch` at the first
difference. ``fuzz/fuzz_host_calls.py`` drives this with atheris (coverage-guided, see
docs/native.md); the tests drive it with random bytes, so the target itself stays tested.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from supervm import Call, ExecutionBackend, ExecutionContext
from supervm.state.storage import Storage

from .differential import N_OPS, compare, encode_ops, native_block, serial_block

CONTRACT = bytes.fromhex("00000000000000000000000000000000000f022e")
PAGE = 65536
#: Pointers and lengths at the edges: of the program and result areas, of memory (one page,
#: growing to eight), of 2**31 and of 2**32.
EDGES = (0, 1, 20, 31, 32, 33, 255, 256, 257, 0x9FF8, 0xA000, 0xC000, PAGE - 33, PAGE - 32,
         PAGE - 20, PAGE - 1, PAGE, PAGE + 64, 2 * PAGE - 16, 8 * PAGE - 1, 8 * PAGE,
         65535, 65536, 65537, 2**31 - 1, 2**31, 2**32 - 32, 2**32 - 1)  # fmt: skip
GAS = (0, 1, 200, 5_000, 12_000, 60_000, 1_000_000, 10_000_000)
MAX_CALLS = 4
MAX_OPS = 24


class Mismatch(AssertionError):
    """The native path did something the Python path did not."""


@attrs.frozen
class FuzzCase:
    """A block to run on both paths.

    :param calls: ``(ops, gas limit)`` per call; ops are ``(opcode, a, b, c, d)``.
    :param initial: storage the block starts on.
    :param threads: threads of the native block executor.
    """

    calls: tuple[tuple[tuple[tuple[int, int, int, int, int], ...], int], ...]
    initial: tuple[tuple[bytes, bytes], ...]
    threads: int


class _Reader:
    """Bytes as a stream of small decisions; reads past the end give zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        value = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return value

    def word(self) -> int:
        chunk = self.data[self.pos : self.pos + 4].ljust(4, b"\0")
        self.pos += 4
        return int(struct.unpack("<I", chunk)[0])

    def argument(self) -> int:
        kind = self.byte() % 4
        if kind == 0:
            return self.byte() % 64
        if kind == 1:
            return EDGES[self.byte() % len(EDGES)]
        if kind == 2:
            return self.byte() * 256 + self.byte()
        return self.word()


def decode(data: bytes) -> FuzzCase:
    """The case that ``data`` describes (every byte string describes one)."""
    r = _Reader(data)
    ncalls = 1 + r.byte() % MAX_CALLS
    threads = 1 + r.byte() % 3
    calls = []
    for _ in range(ncalls):
        gas = GAS[r.byte() % len(GAS)]
        ops = tuple(
            (r.byte() % (N_OPS + 1), r.argument(), r.argument(), r.argument(), r.argument())
            for _ in range(r.byte() % (MAX_OPS + 1))
        )
        calls.append((ops, gas))
    initial = {}
    for _ in range(r.byte() % 4):
        key = b"\x01" + CONTRACT + bytes(r.byte() % 4)
        value = bytes(r.byte() for _ in range(1 + r.byte() % 40))
        initial[key] = value
    return FuzzCase(tuple(calls), tuple(sorted(initial.items())), threads)


def _calls(program: bytes, case: FuzzCase) -> list[Call]:
    return [
        Call(
            code=program,
            input=encode_ops(ops),
            context=ExecutionContext(caller=b"\x11" * 20, address=CONTRACT, gas_limit=gas),
            vm="wasm-native",
        )
        for ops, gas in case.calls
    ]


def check(
    case: FuzzCase,
    python: ExecutionBackend,
    native: Any,
    program: bytes,
    storage_factory: Callable[[], Storage],
) -> None:
    """Run ``case`` call by call on both paths and as a native block; raise on a difference.

    :param native: a :class:`~supervm_wasm_native.NativeWasmBackend`.
    :param program: the compiled :func:`~.differential.host_call_program`.
    """

    def fresh() -> Storage:
        storage = storage_factory()
        if case.initial:
            storage.write_batch(list(case.initial))
        return storage

    calls = _calls(program, case)
    for i, call in enumerate(calls):
        reference, candidate = compare(
            [python, native], program, fresh, call.context, input=call.input
        )
        if reference != candidate:
            raise Mismatch(f"call {i} differs:\n  python: {reference}\n  native: {candidate}")
    expected = serial_block(python, calls, fresh())
    got, _stats = native_block(native, calls, fresh(), threads=case.threads)
    _same_block(expected, got)


def _same_block(expected: Any, got: Any) -> None:
    for field in ("results", "changes", "reads", "writes", "committed"):
        if getattr(expected, field) != getattr(got, field):
            raise Mismatch(
                f"the block's {field} differ:\n  python: {getattr(expected, field)}\n"
                f"  native: {getattr(got, field)}"
            )


def corpus() -> Sequence[bytes]:
    """A few seed inputs: a storage round trip, a log, a hostile copy, a hot spot."""
    return (
        bytes([1, 0, 6, 3, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        bytes([0, 1, 6, 2, 11, 0, 1, 0, 3, 0, 0, 0, 8, 20, 1, 3, 1]),
        bytes([0, 0, 7, 1, 16, 1, 27, 1, 26]),
        bytes([3, 1, 6, 2, 2, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0]),
    )
