"""The storage contract every backend implements.

A backend (:class:`Storage`) is an ordered byte-key/byte-value store with atomic batches. The
kernel never hands a backend to a contract directly: executions run on a
:class:`~supervm.state.overlay.StateOverlay` (in a chain, its subclass
:class:`~supervm.state.world.WorldState`), which reaches the backend only in one atomic batch.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Self

import attrs

from supervm.errors import StorageError

#: One change in a batch: a value to set, or ``None`` to delete the key.
Change = tuple[bytes, bytes | None]


def validate_batch(changes: Iterable[Change], check_key: Callable[[bytes], object]) -> list[Change]:
    """Materialise and check a whole batch before any of it is applied, so a bad item changes
    nothing; errors name the item. ``check_key`` raises for a key the backend cannot store.

    For backends' :meth:`Storage.write_batch`: values must be bytes or ``None`` (delete).
    """
    batch = changes if type(changes) is list else list(changes)
    # A block's commit is thousands of well-formed items: check them in one tight pass (a third
    # of the time of the loop below, which runs only to name the first bad item).
    try:
        for change in batch:
            if type(change) is not tuple:
                raise TypeError
            key, value = change
            check_key(key)
            if value is not None and type(value) is not bytes:
                raise TypeError
    except (TypeError, ValueError, StorageError):
        pass
    else:
        return batch
    checked: list[Change] = []
    for index, change in enumerate(batch):
        if not isinstance(change, tuple) or len(change) != 2:
            raise TypeError(f"batch item {index} must be a (key, value) tuple, got {change!r}")
        key, value = change
        try:
            check_key(key)
            if value is not None and not isinstance(value, bytes):
                raise TypeError(f"storage values must be bytes, got {type(value).__name__}")
        except (TypeError, ValueError, StorageError) as exc:
            raise type(exc)(f"batch item {index}: {exc}") from None
        checked.append((key, value))
    return checked


@attrs.frozen
class StorageSettings:
    """How to open a storage backend.

    :param data_dir: directory for persistent backends; ``None`` for in-memory ones.
    :param map_size: maximum size in bytes for backends with a fixed-size map (LMDB).
    :param options: backend-specific options, as strings (from the command line or a file).
    """

    data_dir: Path | None = None
    map_size: int | None = None
    options: Mapping[str, str] = attrs.field(factory=dict)


class Storage(abc.ABC):
    """An ordered key-value store with atomic batches.

    Keys and values are bytes. Iteration is in ascending byte order. Single-key ``set`` and
    ``delete`` are each atomic; :meth:`write_batch` applies many changes atomically: after a
    crash either all of a batch is visible or none of it is.
    """

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key``, or ``None``."""

    def has(self, key: bytes) -> bool:
        """Whether ``key`` holds a value."""
        return self.get(key) is not None

    def set(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, atomically."""
        self.write_batch([(key, value)])

    def delete(self, key: bytes) -> None:
        """Remove ``key`` if present, atomically."""
        self.write_batch([(key, None)])

    @abc.abstractmethod
    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` pairs with ``start <= key < end`` in key order.

        ``end=None`` means no upper bound. The iterator sees a consistent view.
        """

    def iterate_prefix(
        self, prefix: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield the pairs whose key starts with ``prefix``, in key order."""
        return self.iterate(prefix, prefix_end(prefix), reverse=reverse)

    @abc.abstractmethod
    def write_batch(self, changes: Iterable[Change]) -> None:
        """Apply every change atomically: all become visible (and durable) or none do."""

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release resources. The store must not be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (``None``: unbounded)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


#: Opens a storage backend from settings; what ``supervm_register_storage`` registers.
StorageFactory = Callable[[StorageSettings], Storage]
