"""The compiled-module cache: in memory per backend, and on disk across backends."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from supervm import ExecutionContext, ModuleError, StateOverlay

ADD = (
    '(module (func (export "add") (param i32 i32) (result i32)'
    " (i32.add (local.get 0) (local.get 1))))"
)
SUB = (
    '(module (func (export "sub") (param i32 i32) (result i32)'
    " (i32.sub (local.get 0) (local.get 1))))"
)


def call(backend, storage, code: bytes, entry: str = "add", args=(2, 3)):
    return backend.execute(code, StateOverlay(storage), ExecutionContext(), entry=entry, args=args)


def cached_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*/*.cwasm"))


def test_same_code_is_compiled_once(backend, storage, wat) -> None:
    code = wat(ADD)
    for _ in range(5):
        assert call(backend, storage, code).value == 5
    assert backend.modules.compiled == 1
    assert backend.modules.deserialized == 0
    # Equal bytes in a new object hit the cache as well.
    assert call(backend, storage, bytes(bytearray(code))).value == 5
    backend.validate(code)
    assert backend.modules.compiled == 1
    assert call(backend, storage, wat(SUB), "sub").value == -1
    assert backend.modules.compiled == 2


def test_validate_compiles_for_later_calls(backend, storage, wat) -> None:
    code = wat(ADD)
    backend.validate(code)
    assert backend.modules.compiled == 1
    assert call(backend, storage, code).value == 5
    assert backend.modules.compiled == 1


def test_disk_cache_is_used_by_a_second_backend(make_backend, storage, wat, tmp_path) -> None:
    cache_dir = tmp_path / "cache"
    code = wat(ADD)
    first = make_backend(cache_dir=str(cache_dir))
    assert call(first, storage, code).value == 5
    assert (first.modules.compiled, first.modules.deserialized) == (1, 0)
    files = cached_files(cache_dir)
    assert [f.name for f in files] == [hashlib.sha256(code).hexdigest() + ".cwasm"]
    assert not list(cache_dir.glob("*/*.tmp"))  # written atomically, nothing left over

    second = make_backend(cache_dir=str(cache_dir))
    assert call(second, storage, code).value == 5
    assert (second.modules.compiled, second.modules.deserialized) == (0, 1)
    assert call(second, storage, code).value == 5
    assert second.modules.deserialized == 1  # then from memory


def test_disk_cache_is_keyed_by_engine_settings(make_backend, storage, wat, tmp_path) -> None:
    cache_dir = tmp_path / "cache"
    code = wat(ADD)
    call(make_backend(cache_dir=str(cache_dir)), storage, code)
    other = make_backend(cache_dir=str(cache_dir), max_memory=1 << 20)
    assert call(other, storage, code).value == 5
    assert (other.modules.compiled, other.modules.deserialized) == (1, 0)
    assert len(list(cache_dir.iterdir())) == 2


@pytest.mark.parametrize(
    "damage",
    [
        "garbage",
        "truncated",
        "empty",
        "flipped",
    ],
)
def test_corrupted_cache_file_is_ignored_and_replaced(
    make_backend, storage, wat, tmp_path, caplog, damage: str
) -> None:
    cache_dir = tmp_path / "cache"
    code = wat(ADD)
    call(make_backend(cache_dir=str(cache_dir)), storage, code)
    (path,) = cached_files(cache_dir)
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not a compiled module" * 10)
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # one corrupted byte in the middle of the file
        middle = len(good) // 2
        path.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])

    with caplog.at_level(logging.WARNING, logger="supervm.wasm"):
        recovered = make_backend(cache_dir=str(cache_dir))
        assert call(recovered, storage, code).value == 5
    assert (recovered.modules.compiled, recovered.modules.deserialized) == (1, 0)
    assert "ignoring unusable cached module" in caplog.text

    # The recompiled module replaced the bad file: the next backend deserialises it.
    again = make_backend(cache_dir=str(cache_dir))
    assert call(again, storage, code).value == 5
    assert (again.modules.compiled, again.modules.deserialized) == (0, 1)


def test_no_disk_cache_with_an_empty_cache_dir(make_backend, storage, wat, tmp_path) -> None:
    backend = make_backend(cache_dir="")
    assert call(backend, storage, wat(ADD)).value == 5
    assert not list(Path(tmp_path).rglob("*.cwasm"))


def test_default_cache_dir_comes_from_the_environment(
    make_backend, storage, wat, _private_cache_dir: Path
) -> None:
    backend = make_backend(cache_dir=None)
    assert call(backend, storage, wat(ADD)).value == 5
    assert len(cached_files(_private_cache_dir)) == 1


def test_unwritable_cache_dir_only_warns(make_backend, storage, wat, tmp_path, caplog) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="supervm.wasm"):
        backend = make_backend(cache_dir=str(blocker))
        assert call(backend, storage, wat(ADD)).value == 5
    assert "could not cache compiled module" in caplog.text


def test_invalid_modules_are_not_cached_as_loaded(backend, wat) -> None:
    code = wat('(module (import "supervm" "nope" (func)))')
    for _ in range(2):
        with pytest.raises(ModuleError, match=r"supervm\.nope"):
            backend.validate(code)


def test_evicted_modules_are_reloaded(backend, storage, wat, monkeypatch) -> None:
    monkeypatch.setattr(backend.modules, "_max_entries", 2)
    codes = [wat(f'(module (func (export "id") (result i32) (i32.const {i})))') for i in range(4)]
    for _ in range(3):
        for i, code in enumerate(codes):
            assert call(backend, storage, code, "id", ()).value == i
    assert backend.modules.compiled == 12  # every call evicted the module needed next


def test_closed_backend_refuses_calls(make_backend, storage, wat) -> None:
    backend = make_backend()
    code = wat(ADD)
    assert call(backend, storage, code).value == 5
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        call(backend, storage, code)
