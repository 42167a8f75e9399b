"""The memory backend against the storage contract, plus what is specific to it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from supervm import Kernel, StorageError, StorageSettings
from supervm.state.storage import Storage
from supervm.testing import StorageContract
from supervm_storage_memory import MemoryStorage


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def make_storage(self) -> Callable[[], Storage]:
        return MemoryStorage


def test_settings_are_optional_and_ignored() -> None:
    assert len(MemoryStorage()) == 0
    store = MemoryStorage(StorageSettings(options={"anything": "1"}))
    store.set(b"k", b"v")
    assert len(store) == 1


def test_use_after_close_is_a_storage_error() -> None:
    store = MemoryStorage()
    store.set(b"k", b"v")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get(b"k")
    with pytest.raises(StorageError, match="closed"):
        store.set(b"k", b"v")
    with pytest.raises(StorageError, match="closed"):
        store.iterate()


def test_iterator_detached_by_close_still_finishes() -> None:
    store = MemoryStorage()
    store.write_batch([(b"a", b"1"), (b"b", b"2")])
    iterator = store.iterate()
    assert next(iterator) == (b"a", b"1")
    store.close()
    assert list(iterator) == [(b"b", b"2")]


def test_finished_iterators_are_not_tracked() -> None:
    """Exhausted iterators must not be copied on every later write."""
    store = MemoryStorage()
    store.write_batch([(b"a", b"1")])
    iterators = [store.iterate() for _ in range(5)]
    for iterator in iterators:
        assert list(iterator) == [(b"a", b"1")]
    assert len(store._iterators) == 0


def test_registered_as_memory_through_entry_points() -> None:
    kernel = Kernel.from_plugins(env={})
    assert kernel.storages.entry("memory").plugin == "storage_memory"
    store = kernel.open_storage("memory")
    assert isinstance(store, MemoryStorage)
    store.set(b"k", b"v")
    assert store.get(b"k") == b"v"
