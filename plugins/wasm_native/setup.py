"""Build of the native extension (everything else is in pyproject.toml).

The extension is optional: where no C compiler is present (or the build fails) the package still
installs, without it, and the ``wasm-native`` backend runs every call on the Python path and says
so. ``SUPERVM_NATIVE_SANITIZE=1`` builds it with AddressSanitizer and UndefinedBehaviorSanitizer
(see docs/native.md).
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

compile_args = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
link_args: list[str] = []
if os.environ.get("SUPERVM_NATIVE_SANITIZE") == "1":
    sanitize = [
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
        "-fno-sanitize-recover=undefined",
    ]
    compile_args += ["-O1", "-g", *sanitize]
    link_args += sanitize
else:
    compile_args += ["-O2"]

setup(
    ext_modules=[
        Extension(
            "supervm_wasm_native._native",
            sources=["csrc/native.c", "csrc/hashes.c"],
            depends=["csrc/wasmtime_api.h", "csrc/hashes.h", "csrc/block.c"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            # No -lwasmtime: the library is resolved at run time from the wasmtime package.
            libraries=["dl", "pthread"],
            optional=True,
        )
    ]
)
