"""The LMDB backend against the storage contract, plus durability and multi-process tests."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest
from supervm import Kernel, StorageError, StorageFullError, StorageSettings
from supervm.state.storage import Storage
from supervm.testing import StorageContract
from supervm_storage_lmdb import DEFAULT_MAP_SIZE, LmdbStorage, parse_size


def open_store(path: Path, **options: str) -> LmdbStorage:
    return LmdbStorage(StorageSettings(data_dir=path, options=options))


class TestLmdbStorage(StorageContract):
    max_key_size = 511

    @pytest.fixture
    def make_storage(self, tmp_path: Path) -> Callable[[], Storage]:
        counter = itertools.count()
        return lambda: open_store(tmp_path / f"db{next(counter)}")


# -- settings ----------------------------------------------------------------------------------


def test_data_dir_is_required() -> None:
    with pytest.raises(StorageError, match="data directory"):
        LmdbStorage(StorageSettings())
    with pytest.raises(StorageError, match="data directory"):
        LmdbStorage()


def test_data_dir_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b"
    with open_store(path) as store:
        store.set(b"k", b"v")
    assert (path / "data.mdb").exists()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot create LMDB directory"):
        open_store(tmp_path / "file")


def test_map_size_default_and_configuration(tmp_path: Path) -> None:
    cases = [
        (StorageSettings(data_dir=tmp_path / "default"), DEFAULT_MAP_SIZE),
        (StorageSettings(data_dir=tmp_path / "field", map_size=8 << 20), 8 << 20),
        (StorageSettings(data_dir=tmp_path / "option", options={"map_size": "16MiB"}), 16 << 20),
        # The explicit field wins over the option.
        (
            StorageSettings(
                data_dir=tmp_path / "both", map_size=8 << 20, options={"map_size": "1G"}
            ),
            8 << 20,
        ),
    ]
    assert DEFAULT_MAP_SIZE == 1 << 30
    for settings, size in cases:
        store = LmdbStorage(settings)
        assert store.map_size == size
        store.close()


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("64k", 64 << 10), ("512MiB", 512 << 20), ("2 GB", 2 << 30), ("1t", 1 << 40)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="invalid size"):
        open_store(tmp_path, map_size="lots")
    with pytest.raises(StorageError, match=r"unknown LMDB option.*mapsize"):
        open_store(tmp_path, mapsize="1G")
    with pytest.raises(StorageError, match="max_readers"):
        open_store(tmp_path, max_readers="many")
    with pytest.raises(StorageError, match="positive"):
        LmdbStorage(StorageSettings(data_dir=tmp_path, map_size=0))


def test_readonly(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.set(b"k", b"v")
    with open_store(tmp_path, readonly="true") as reader:
        assert reader.get(b"k") == b"v"
        with pytest.raises(StorageError, match="read-only"):
            reader.set(b"k", b"other")
        assert reader.get(b"k") == b"v"


def test_use_after_close_is_a_storage_error(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.set(b"a", b"1")
    store.set(b"b", b"2")
    iterator = store.iterate()
    assert next(iterator) == (b"a", b"1")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.get(b"a")
    with pytest.raises(StorageError, match="closed"):
        store.set(b"a", b"1")
    with pytest.raises(StorageError, match="closed"):
        store.iterate()
    with pytest.raises(StorageError):
        next(iterator)


def test_too_long_key_names_the_limit(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store:
        assert store.max_key_size == 511
        with pytest.raises(StorageError, match="maximum key size of 511 bytes"):
            store.set(b"x" * 512, b"v")
        with pytest.raises(StorageError, match="511"):
            store.get(b"x" * 512)


# -- durability --------------------------------------------------------------------------------


def test_data_persists_across_reopen(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.write_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        store.delete(b"b")
    with open_store(tmp_path) as store:
        assert list(store.iterate()) == [(b"a", b"1"), (b"c", b"3")]
        store.set(b"d", b"4")
    with open_store(tmp_path) as store:
        assert [k for k, _ in store.iterate()] == [b"a", b"c", b"d"]


def test_map_full_raises_and_changes_nothing(tmp_path: Path) -> None:
    store = LmdbStorage(StorageSettings(data_dir=tmp_path, map_size=1 << 20))
    store.write_batch([(b"small/%03d" % i, b"v" * 100) for i in range(50)])
    before = list(store.iterate())

    # A batch that fills the map part-way through: the first items fit, the rest do not.
    batch = [(b"small/000", None), (b"small/001", b"changed")]
    batch += [(b"big/%03d" % i, os.urandom(50_000)) for i in range(40)]
    with pytest.raises(StorageFullError) as excinfo:
        store.write_batch(batch)
    message = str(excinfo.value)
    assert "map_size=1048576" in message
    assert "map_size" in message and "larger" in message
    assert list(store.iterate()) == before

    with pytest.raises(StorageFullError):
        store.set(b"huge", bytes(2 << 20))
    assert list(store.iterate()) == before

    # Still usable for writes that fit, and unchanged after a reopen.
    store.set(b"after", b"ok")
    store.close()
    with LmdbStorage(StorageSettings(data_dir=tmp_path, map_size=1 << 20)) as reopened:
        assert reopened.get(b"after") == b"ok"
        assert reopened.get(b"big/000") is None
        assert reopened.get(b"small/000") == b"v" * 100
    # Reopening with a larger map makes room.
    with LmdbStorage(StorageSettings(data_dir=tmp_path, map_size=8 << 20)) as reopened:
        reopened.write_batch(batch)
        assert reopened.get(b"big/039") is not None


# -- other processes ---------------------------------------------------------------------------

READER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from supervm import StorageSettings
    from supervm_storage_lmdb import LmdbStorage

    store = LmdbStorage(StorageSettings(data_dir=Path(sys.argv[1]), options={"readonly": "1"}))
    for line in sys.stdin:
        print(repr(list(store.iterate())), flush=True)
    """
)


@pytest.mark.slow
def test_reader_in_another_process_sees_only_committed_data(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.write_batch([(b"a", b"1"), (b"b", b"2")])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdin is not None and reader.stdout is not None

    def read_in_child() -> object:
        assert reader.stdin is not None and reader.stdout is not None
        reader.stdin.write("read\n")
        reader.stdin.flush()
        return eval(reader.stdout.readline())

    try:
        assert read_in_child() == [(b"a", b"1"), (b"b", b"2")]
        # A write transaction in progress (here held open through the environment) is invisible.
        env: lmdb.Environment = store._env  # type: ignore[assignment]
        txn = env.begin(write=True)
        txn.put(b"a", b"uncommitted")
        txn.put(b"c", b"uncommitted")
        assert read_in_child() == [(b"a", b"1"), (b"b", b"2")]
        txn.abort()
        assert read_in_child() == [(b"a", b"1"), (b"b", b"2")]
        # A committed batch is visible at once.
        store.write_batch([(b"a", None), (b"c", b"3")])
        assert read_in_child() == [(b"b", b"2"), (b"c", b"3")]
    finally:
        reader.stdin.close()
        reader.wait(timeout=10)
        store.close()
    assert reader.returncode == 0


def test_discovered_through_entry_points(tmp_path: Path) -> None:
    kernel = Kernel.from_plugins(env={})
    assert kernel.storages.entry("lmdb").plugin == "storage_lmdb"
    store = kernel.open_storage("lmdb", data_dir=tmp_path / "db")
    try:
        assert isinstance(store, LmdbStorage)
        store.set(b"k", b"v")
        assert store.get(b"k") == b"v"
    finally:
        store.close()
    with pytest.raises(StorageError, match="data directory"):
        kernel.open_storage("lmdb")


# -- crash safety ------------------------------------------------------------------------------

KEYS_PER_BATCH = 200

WRITER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from supervm import StorageSettings
    from supervm_storage_lmdb import LmdbStorage

    store = LmdbStorage(StorageSettings(data_dir=Path(sys.argv[1])))
    batch = 0
    while True:
        tag = b"%08d" % batch
        changes = [(b"batch/" + tag + b"/%04d" % i, tag * 8) for i in range({KEYS_PER_BATCH})]
        changes.append((b"last", tag))
        store.write_batch(changes)
        print(batch, flush=True)
        batch += 1
    """
)


def _check_crashed_store(path: Path, last_printed: int) -> int:
    """Check the store holds whole batches 0..N with last_printed <= N <= last_printed + 1."""
    with open_store(path) as store:
        counts: dict[int, int] = {}
        for key, value in store.iterate_prefix(b"batch/"):
            number = int(key.split(b"/")[1])
            assert value == b"%08d" % number * 8
            counts[number] = counts.get(number, 0) + 1
        last = store.get(b"last")
    assert last is not None
    committed = int(last)
    assert all(count == KEYS_PER_BATCH for count in counts.values()), "a batch is torn"
    assert sorted(counts) == list(range(committed + 1)), "batches missing or beyond 'last'"
    assert last_printed <= committed <= last_printed + 1
    return committed


@pytest.mark.slow
def test_kill_9_mid_commit_keeps_exactly_the_committed_batches(tmp_path: Path) -> None:
    rng = random.Random()
    for round_ in range(6):
        path = tmp_path / f"crash{round_}"
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        try:
            # Wait for the first commit (startup time varies), then kill at a random moment.
            first = writer.stdout.readline()
            assert first.strip() == "0", first
            time.sleep(rng.uniform(0.05, 0.6))
            writer.send_signal(signal.SIGKILL)
            rest = writer.stdout.read()
        finally:
            writer.kill()
            writer.wait(timeout=10)
            writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        printed = [int(line) for line in [first, *rest.splitlines()] if line.strip()]
        assert printed == list(range(len(printed)))
        committed = _check_crashed_store(path, printed[-1])
        assert committed >= 1 or printed[-1] == 0
