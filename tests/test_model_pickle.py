"""Records cross processes by pickle: every field must arrive, and arrive validated."""

from __future__ import annotations

import copy
import pickle
import typing
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from supervm import model
from supervm.model import (
    ADDRESS_SIZE,
    U64_MAX,
    BlockEnv,
    BlockResult,
    Call,
    ErrorKind,
    Event,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    Log,
    positional_pickle,
)

RECORDS = [c for c in vars(model).values() if attrs.has(c) and c.__module__ == model.__name__]

addresses = st.binary(min_size=ADDRESS_SIZE, max_size=ADDRESS_SIZE)
u64 = st.integers(0, U64_MAX)
words = st.binary(min_size=32, max_size=32)


def record(cls: type[Any]) -> st.SearchStrategy[Any]:
    """An instance of ``cls`` with every field drawn (none left to its default)."""
    hints = typing.get_type_hints(cls)
    given_ = OVERRIDES[cls]
    kwargs = {
        f.name: given_[f.name] if f.name in given_ else st.from_type(hints[f.name])
        for f in attrs.fields(cls)
    }
    return st.builds(cls, **kwargs)


def records(cls: type[Any], max_size: int = 3) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(st.deferred(lambda: record(cls)), max_size=max_size).map(tuple)


#: Strategies for fields whose type alone says too little (validated ranges, nested records:
#: an arbitrary 7-byte "address" would fail the validator). Every other field is drawn from its
#: annotated type, so no field is left at its default.
OVERRIDES: dict[type, dict[str, st.SearchStrategy[Any]]] = {
    ExecutionContext: {
        "block_number": u64,
        "timestamp": u64,
        "caller": addresses,
        "address": addresses,
        "gas_limit": u64,
        "value": st.integers(0, 2**256 - 1),
        "depth": st.integers(0, 1024),
        "origin": addresses,
        "env": st.none() | st.deferred(lambda: record(BlockEnv)),
    },
    BlockEnv: {
        "coinbase": addresses,
        "prev_randao": words,
        "block_hashes": st.lists(words, max_size=3).map(tuple),
        "excess_blob_gas": st.none() | u64,
        "parent_beacon_block_root": st.none() | words,
    },
    Event: {"address": addresses},
    Log: {"address": addresses, "topics": st.lists(words, max_size=4).map(tuple)},
    ExecutionError: {},
    ExecutionResult: {
        "events": records(Event),
        "logs": records(Log),
        "error": st.none() | st.deferred(lambda: record(ExecutionError)),
    },
    Call: {"context": st.deferred(lambda: record(ExecutionContext))},
    BlockResult: {"results": records(ExecutionResult)},
}


def assert_same_fields(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    for f in attrs.fields(type(a)):
        assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert a == b


def test_every_record_class_is_covered() -> None:
    # A new record class in model.py must get a strategy here (and the decorator there).
    assert set(RECORDS) == set(OVERRIDES)
    for cls in RECORDS:
        assert "positional_pickle" in cls.__reduce__.__code__.co_filename, cls


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_records_round_trip_through_pickle(cls: type[Any], data: st.DataObject) -> None:
    instance = data.draw(record(cls))
    for protocol in (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        assert_same_fields(pickle.loads(pickle.dumps(instance, protocol)), instance)
    assert_same_fields(copy.deepcopy(instance), instance)


# Pickle finds classes by module and name, so these live at module level.


@positional_pickle
@attrs.frozen
class Grown:
    """A record as it might be after a field was added at the end."""

    a: int
    b: bytes = b""
    extra: str = "default"


@attrs.frozen
class MoreContext(ExecutionContext):
    """A subclass that adds a field its decorated base does not know."""

    extra: int = 0


@positional_pickle
@attrs.frozen
class One:
    only: tuple[int, ...]


@positional_pickle
@attrs.frozen
class Empty:
    pass


def test_the_mechanism_cannot_drop_a_field_added_later() -> None:
    grown = Grown(1, b"x", extra="kept")
    assert pickle.loads(pickle.dumps(grown)).extra == "kept"
    assert_same_fields(pickle.loads(pickle.dumps(grown)), grown)


def test_a_subclass_that_adds_fields_keeps_them() -> None:
    ctx = MoreContext(block_number=5, extra=7)
    assert_same_fields(pickle.loads(pickle.dumps(ctx)), ctx)


def test_one_and_no_field_records() -> None:
    assert_same_fields(pickle.loads(pickle.dumps(One((1, 2)))), One((1, 2)))
    assert_same_fields(pickle.loads(pickle.dumps(Empty())), Empty())


@pytest.mark.parametrize(
    "field",
    [attrs.field(default=0, init=False), attrs.field(default=0, kw_only=True)],
    ids=["init=False", "kw_only"],
)
def test_fields_positional_arguments_cannot_carry_are_refused(field: Any) -> None:
    with pytest.raises(TypeError, match="not so for hidden"):
        positional_pickle(attrs.make_class("Hidden", {"a": attrs.field(), "hidden": field}))


class _Forged:
    """Pickles as an ExecutionContext with the given arguments, as a corrupted or hostile
    payload from another process could."""

    def __init__(self, *args: object) -> None:
        self.args = args

    def __reduce__(self) -> tuple[type[ExecutionContext], tuple[object, ...]]:
        return ExecutionContext, self.args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((2**64, 0, bytes(20), bytes(20), 1), "block_number"),
        ((0, -1, bytes(20), bytes(20), 1), "timestamp"),
        ((0, 0, bytes(20), bytes(20), 2**64), "gas_limit"),
        ((0, 0, bytes(7), bytes(20), 1), "caller"),
    ],
)
def test_unpickling_validates_a_context(args: tuple[object, ...], message: str) -> None:
    blob = pickle.dumps(_Forged(*args))
    with pytest.raises(ValueError, match=message):
        pickle.loads(blob)


def test_unpickling_a_valid_forged_context_works() -> None:
    ctx = pickle.loads(pickle.dumps(_Forged(1, 2, b"\x01" * 20, b"\x02" * 20, 3)))
    assert ctx == ExecutionContext(1, 2, b"\x01" * 20, b"\x02" * 20, 3)


def test_a_result_with_everything_round_trips() -> None:
    addr = b"\xaa" * 20
    result = ExecutionResult(
        value=-3,
        return_data=b"r",
        events=(Event(addr, b"e"),),
        logs=(Log(addr, (b"\x01" * 32,), b"d"),),
        gas_used=9,
        read_set=frozenset({b"k1"}),
        write_set=frozenset({b"k2"}),
        error=ExecutionError(ErrorKind.REVERT, "no"),
    )
    assert_same_fields(pickle.loads(pickle.dumps(result)), result)
