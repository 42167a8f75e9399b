"""Coverage-guided fuzzing of the native host functions and block executor with atheris.

Every input becomes a block of host-call programs with hostile pointers and lengths
(supervm_wasm_native.fuzzing.decode), run call by call on the Python and the native path and
as a native block; any difference raises, and atheris saves the input. Coverage comes from the
Python reference path (supervm_wasm_wasmtime, instrumented below), whose host functions branch
where the C ones do. Under the sanitized build (docs/native.md) AddressSanitizer and
UndefinedBehaviorSanitizer check the C side on every input.

    .venv/bin/python plugins/wasm_native/fuzz/fuzz_host_calls.py -max_total_time=300 corpus/

(atheris is not a dependency of the plugin: ``uv pip install atheris`` into the venv first.)
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import tempfile

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports(include=["supervm_wasm_wasmtime", "supervm_wasm_native"]):
    import wasmtime
    from supervm import Kernel, VMSettings
    from supervm_wasm_native import NativeWasmBackend
    from supervm_wasm_native.differential import host_call_program
    from supervm_wasm_native.fuzzing import check, corpus, decode
    from supervm_wasm_wasmtime import WasmtimeBackend


def main() -> None:
    os.environ.setdefault("SUPERVM_CACHE_DIR", tempfile.mkdtemp(prefix="supervm-fuzz-"))
    kernel = Kernel.from_plugins(env={})
    settings = VMSettings(cache_dir="")
    python = WasmtimeBackend(settings, kernel.host_functions())
    native = NativeWasmBackend(settings, kernel.host_functions())
    if native.engine_kind != "native":
        sys.exit(f"the native core is not available: {native.status.describe()}")
    program = bytes(wasmtime.wat2wasm(host_call_program()))

    inputs = itertools.count()

    def one_input(data: bytes) -> None:
        # The Python path's failed calls leave their stores in reference cycles: collect them
        # now and then, or its instance pool runs out (a Python-path issue, not under test).
        if next(inputs) % 50 == 0:
            gc.collect()
        check(decode(data), python, native, program, lambda: kernel.open_storage("memory"))

    args = list(sys.argv)
    seeds = [a for a in args[1:] if not a.startswith("-") and os.path.isdir(a)]
    for directory in seeds:  # an empty corpus directory gets the seed inputs
        if not os.listdir(directory):
            for i, seed in enumerate(corpus()):
                with open(os.path.join(directory, f"seed-{i}"), "wb") as f:
                    f.write(seed)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
