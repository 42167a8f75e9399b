"""Loading the C extension and binding it to the wasmtime library the ``wasmtime`` wheel ships.

The extension declares the few wasmtime C API functions and structs it uses by hand (the wheel
has no headers), so it only works with the wasmtime version those declarations were written
from: :data:`PINNED_WASMTIME`. At load time this module checks the installed version, resolves
the library's path from the ``wasmtime`` package, compares the extension's struct layouts with
``wasmtime._bindings`` through ctypes, and hands the extension the kernel's result classes.
Anything that does not hold makes the native path unavailable with a reason that names it; the
backend then runs every call on the Python path (see :func:`native_status`).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
from pathlib import Path
from types import ModuleType

import attrs

#: The wasmtime release whose C API ``csrc/wasmtime_api.h`` declares.
PINNED_WASMTIME = "50.0.1"


class NativeUnavailableError(RuntimeError):
    """The native path cannot run here; the message says why."""


@attrs.frozen
class NativeStatus:
    """Whether the native path can run, and why not.

    :param available: the extension is built, bound and checked.
    :param reason: why it is not available (empty when it is).
    :param library: the wasmtime library it is bound to (empty when not).
    """

    available: bool
    reason: str = ""
    library: str = ""

    def describe(self) -> str:
        """One line for ``supervm native`` and the log."""
        if self.available:
            return f"native execution core: available (wasmtime {PINNED_WASMTIME}, {self.library})"
        return f"native execution core: unavailable, calls run on the Python path ({self.reason})"


def _library_path() -> Path:
    from wasmtime import _ffi

    return Path(_ffi.filename)


def check_layout(native: dict[str, int]) -> None:
    """Compare the extension's struct layouts with ``wasmtime._bindings``'s; raise on a mismatch.

    :param native: the extension's ``struct_layout()``.
    """
    from wasmtime import _bindings as b

    expected = {
        "wasmtime_extern_t": ctypes.sizeof(b.wasmtime_extern_t),
        "wasmtime_extern_t.of": b.wasmtime_extern_t.of.offset,
        "wasmtime_val_raw_t": ctypes.sizeof(b.wasmtime_val_raw_t),
        "wasmtime_func_t": ctypes.sizeof(b.wasmtime_func_t),
        "wasmtime_instance_t": ctypes.sizeof(b.wasmtime_instance_t),
        "wasmtime_memory_t": ctypes.sizeof(b.wasmtime_memory_t),
        "wasm_byte_vec_t": ctypes.sizeof(b.wasm_byte_vec_t),
        "wasm_valtype_vec_t": ctypes.sizeof(b.wasm_valtype_vec_t),
    }
    wrong = [
        f"{name}: {native.get(name)} bytes here, {size} in wasmtime"
        for name, size in expected.items()
        if native.get(name) != size
    ]
    if wrong:
        raise NativeUnavailableError(
            "the native extension's wasmtime declarations do not match the installed wasmtime "
            f"({'; '.join(wrong)})"
        )


def check_version(installed: str) -> None:
    """Raise unless ``installed`` is the pinned wasmtime version."""
    if installed != PINNED_WASMTIME:
        raise NativeUnavailableError(
            f"wasmtime {installed} is installed, but the native extension is written against "
            f"wasmtime {PINNED_WASMTIME}'s C API (pin wasmtime=={PINNED_WASMTIME})"
        )


def _slot_fields(cls: type) -> tuple[str, ...] | None:
    """The fields the extension may fill directly, or ``None`` to call the class.

    Filling the slots is what attrs' generated ``__init__`` of a frozen slotted class does when
    no field has a validator, converter or ``on_setattr`` hook and there is no
    ``__attrs_post_init__``; anything more and the class is called as usual.
    """
    if not attrs.has(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__attrs_post_init__"):
        return None
    fields = attrs.fields(cls)
    if any(f.validator or f.converter or f.on_setattr or not f.init for f in fields):
        return None
    return tuple(f.name for f in fields)


def _addition_fields() -> tuple[str, ...] | None:
    """``("amount",)`` while AddU256 is the class the extension knows: one slot, set by an
    ``__init__`` that only reduces the amount mod 2**256 (amounts built in C already are)."""
    from supervm.state.overlay import AddU256

    if AddU256.__slots__ == ("amount",) and AddU256.__init__.__code__.co_names == (
        "_U256",
        "amount",
    ):
        return ("amount",)
    return None


def _load() -> ModuleType:
    try:
        installed = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        raise NativeUnavailableError("the wasmtime package is not installed") from None
    check_version(installed)
    try:
        from . import _native  # type: ignore[attr-defined]
    except ImportError as exc:
        raise NativeUnavailableError(
            "the C extension is not built (was a C compiler present when the plugin was "
            f"installed? reinstall supervm-wasm-native with gcc available): {exc}"
        ) from None
    check_layout(_native.struct_layout())
    import wasmtime  # noqa: F401  (loads the library the extension binds to)

    path = _library_path()
    try:
        _native.bind(str(path))
    except ImportError as exc:
        raise NativeUnavailableError(str(exc)) from None
    from supervm import ErrorKind, Event, ExecutionError, ExecutionResult, Log
    from supervm.state.overlay import AddU256

    kinds = (
        ErrorKind.REVERT,
        ErrorKind.OUT_OF_GAS,
        ErrorKind.HOST,
        ErrorKind.TRAP,
        ErrorKind.TIMEOUT,
    )
    records = (*(_slot_fields(cls) for cls in (ExecutionResult, Event, Log)), _addition_fields())
    _native.setup(ExecutionResult, ExecutionError, kinds, Event, Log, AddU256, records)
    module: ModuleType = _native
    return module


@functools.cache
def _loaded() -> tuple[ModuleType | None, NativeStatus]:
    # Cached: loading binds a process-wide library, once.
    try:
        module = _load()
    except NativeUnavailableError as exc:
        return None, NativeStatus(False, str(exc))
    return module, NativeStatus(True, library=str(_library_path()))


def native_status() -> NativeStatus:
    """Whether the native path can run in this process, and why not."""
    return _loaded()[1]


def native_module() -> ModuleType:
    """The bound extension; :class:`NativeUnavailableError` naming the reason if there is none."""
    module, status = _loaded()
    if module is None:
        raise NativeUnavailableError(status.reason)
    return module
