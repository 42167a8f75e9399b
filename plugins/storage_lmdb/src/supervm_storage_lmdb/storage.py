"""A persistent :class:`~supervm.state.storage.Storage` on LMDB.

LMDB gives the guarantees a chain needs without a write-ahead log of our own: every
:meth:`LmdbStorage.write_batch` is one write transaction committed with ``fsync``
(``sync=True``), and LMDB's copy-on-write B+tree means a crash at any moment (``kill -9``
mid-commit included) leaves the last committed state. Readers, in this process or any other,
run in MVCC read transactions and only ever see committed data.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import cast

import lmdb
from supervm.errors import StorageError, StorageFullError
from supervm.state.storage import Change, Storage, StorageSettings, validate_batch

__all__ = ["DEFAULT_MAP_SIZE", "LmdbStorage", "parse_size"]

#: Map size used when neither ``settings.map_size`` nor the ``map_size`` option is given.
DEFAULT_MAP_SIZE = 1 << 30
#: Options this backend understands in ``StorageSettings.options``.
KNOWN_OPTIONS = ("map_size", "max_readers", "readonly")

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_size(text: str) -> int:
    """Parse a byte size from configuration: ``1073741824``, ``512MiB``, ``4G``, ``64k``.

    Units are binary (``1G`` = ``1GB`` = ``1GiB`` = 2**30): map sizes are page multiples and
    nobody means 10**9 here.
    """
    match = _SIZE.match(text)
    if match is None:
        raise StorageError(f"invalid size {text!r}: expected bytes, optionally with k/M/G/T")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise StorageError(f"invalid value {text!r} for LMDB option {name}: expected true or false")


def _parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise StorageError(
            f"invalid value {text!r} for LMDB option {name}: expected an integer"
        ) from None


def _check_bound(name: str, bound: object) -> None:
    if not isinstance(bound, bytes):
        raise TypeError(f"iteration bound {name} must be bytes, got {type(bound).__name__}")


def _pairs(
    items: Iterator[tuple[bytes | memoryview, bytes | memoryview]],
) -> Iterator[tuple[bytes, bytes]]:
    """Narrow cursor items to bytes: the environment is opened without ``buffers``."""
    return cast("Iterator[tuple[bytes, bytes]]", items)


class LmdbStorage(Storage):
    """An LMDB environment in ``settings.data_dir`` (created if absent).

    Settings:

    * ``data_dir`` (required): the environment directory (``data.mdb``, ``lock.mdb``).
    * ``map_size`` or option ``map_size``: the maximum database size, default 1 GiB. LMDB
      reserves this much address space up front; a write that would exceed it raises
      :class:`~supervm.errors.StorageFullError` and changes nothing. ``settings.map_size``
      wins over the option.
    * option ``max_readers``: concurrent read transactions across all processes (default 126).
      Each live iterator holds one.
    * option ``readonly``: open without write access; :meth:`write_batch` raises.

    Keys must be non-empty bytes of at most :attr:`max_key_size` (511) bytes; LMDB cannot store
    others, and they are rejected before anything is written.

    Iterators hold a read transaction for their whole lifetime rather than copying the range:
    the first item costs O(log n) whatever the range size, and the view is the committed state
    at the moment :meth:`iterate` was called, unaffected by later writes from any process. The
    transaction is released when the iterator is exhausted, closed or garbage-collected; until
    then LMDB cannot reuse pages freed after it began, so do not park iterators for long.
    """

    def __init__(self, settings: StorageSettings | None = None) -> None:
        settings = settings or StorageSettings()
        if settings.data_dir is None:
            raise StorageError(
                "LMDB storage needs a data directory (StorageSettings(data_dir=...) or --data-dir)"
            )
        options: Mapping[str, str] = settings.options
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise StorageError(
                f"unknown LMDB option(s) {', '.join(unknown)} (known: {', '.join(KNOWN_OPTIONS)})"
            )
        if settings.map_size is not None:
            map_size = settings.map_size
        elif "map_size" in options:
            map_size = parse_size(str(options["map_size"]))
        else:
            map_size = DEFAULT_MAP_SIZE
        if map_size <= 0:
            raise StorageError(f"LMDB map_size must be positive, got {map_size}")
        max_readers = _parse_int("max_readers", options.get("max_readers", "126"))
        readonly = _parse_bool("readonly", options.get("readonly", "false"))

        self.path = Path(settings.data_dir)
        self.readonly = readonly
        if not readonly:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create LMDB directory {self.path}: {exc}") from exc
        try:
            self._env: lmdb.Environment | None = lmdb.open(
                str(self.path),
                map_size=map_size,
                subdir=True,
                readonly=readonly,
                create=not readonly,
                sync=True,
                metasync=True,
                lock=True,
                max_dbs=0,
                max_readers=max_readers,
            )
        except lmdb.Error as exc:
            raise StorageError(f"cannot open LMDB environment in {self.path}: {exc}") from exc
        self.max_key_size: int = self._env.max_key_size()

    def __repr__(self) -> str:
        state = "closed" if self._env is None else "open"
        return f"<LmdbStorage {self.path} {state}>"

    @property
    def map_size(self) -> int:
        """The current map size in bytes (the most the database can grow to)."""
        size: int = self._require_env().info()["map_size"]
        return size

    def _require_env(self) -> lmdb.Environment:
        if self._env is None:
            raise StorageError(f"LMDB storage {self.path} is closed")
        return self._env

    def _check_key(self, key: object) -> bytes:
        if not isinstance(key, bytes):
            raise TypeError(f"storage keys must be bytes, got {type(key).__name__}")
        if not key:
            raise ValueError("storage keys must not be empty")
        if len(key) > self.max_key_size:
            raise StorageError(
                f"key of {len(key)} bytes exceeds LMDB's maximum key size of "
                f"{self.max_key_size} bytes"
            )
        return key

    def get(self, key: bytes) -> bytes | None:
        env = self._require_env()
        self._check_key(key)
        try:
            with env.begin() as txn:
                value: bytes | None = txn.get(key)
        except lmdb.Error as exc:
            raise StorageError(f"LMDB read failed in {self.path}: {exc}") from exc
        return value

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        env = self._require_env()
        _check_bound("start", start)
        if end is not None:
            _check_bound("end", end)
            if end <= start:
                return iter(())
        try:
            # Begin now, not on the first next(): the view is the state at this call.
            txn = env.begin()
        except lmdb.Error as exc:
            raise StorageError(f"LMDB read failed in {self.path}: {exc}") from exc
        return self._scan(txn, start, end, reverse)

    def _scan(
        self, txn: lmdb.Transaction, start: bytes, end: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        # LMDB cannot seek to a key longer than max_key_size (set_range just fails), but a bound
        # may be longer than any stored key. Seek to its truncation, which sorts no later, and
        # let the comparisons below skip the few keys between the truncation and the bound.
        limit = self.max_key_size
        try:
            cursor = txn.cursor()
            if reverse:
                if end is None:
                    positioned = cursor.last()
                else:
                    positioned = cursor.set_range(end[:limit]) or cursor.last()
                if not positioned:
                    return
                for key, value in _pairs(cursor.iterprev()):
                    if end is not None and key >= end:
                        continue
                    if key < start:
                        return
                    yield key, value
            else:
                if not cursor.set_range(start[:limit]):
                    return
                for key, value in _pairs(cursor.iternext()):
                    if key < start:
                        continue
                    if end is not None and key >= end:
                        return
                    yield key, value
        except lmdb.Error as exc:
            raise StorageError(f"LMDB iteration failed in {self.path}: {exc}") from exc
        finally:
            # If the environment was closed under us, that already ended the transaction.
            with contextlib.suppress(lmdb.Error):
                txn.abort()

    def write_batch(self, changes: Iterable[Change]) -> None:
        """Apply ``changes`` in one write transaction, committed durably (fsync) or not at all.

        On a full map the transaction aborts, nothing is written, and the store stays usable.
        """
        env = self._require_env()
        checked = validate_batch(changes, self._check_key)
        if not checked:
            return
        if self.readonly:
            raise StorageError(f"LMDB storage {self.path} was opened read-only")
        try:
            with env.begin(write=True) as txn:
                for key, value in checked:
                    if value is None:
                        txn.delete(key)
                    else:
                        txn.put(key, value)
        except lmdb.MapFullError as exc:
            size = env.info()["map_size"]
            raise StorageFullError(
                f"LMDB map in {self.path} is full (map_size={size} bytes, {size / (1 << 20):.0f} "
                "MiB); nothing of this batch was written. Reopen with a larger map size: "
                "StorageSettings(map_size=...) or the storage option map_size (e.g. map_size=4GiB)"
            ) from exc
        except lmdb.Error as exc:
            raise StorageError(f"LMDB write failed in {self.path}: {exc}") from exc

    def sync(self) -> None:
        """Flush to disk. Commits already do; this exists for callers that want to be sure."""
        try:
            self._require_env().sync(True)
        except lmdb.Error as exc:
            raise StorageError(f"LMDB sync failed in {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the environment. Idempotent; live iterators stop with a StorageError."""
        env, self._env = self._env, None
        if env is not None:
            env.close()
