"""Finding and running the AssemblyScript toolchain: Node.js, asc, the SDK and wasm-opt.

Everything comes from a ``node_modules`` directory that ``make install`` filled from the
lock file; nothing is ever downloaded. One ``compile`` call runs one ``node`` process with
:data:`DRIVER` (``driver.mjs``, shipped in this package), which runs asc once per entry file;
``wasm-opt`` (binaryen's, from the same ``node_modules``) runs once per contract when
optimising.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
from supervm.errors import ToolchainError
from supervm.tooling.toolchain import FIX, node_modules_dirs, run_node_driver

#: This package, which ships the driver.
PACKAGE = "supervm_compiler_assemblyscript"
#: The JavaScript driver asc runs in.
DRIVER = "driver.mjs"
#: The SDK's npm package.
SDK_PACKAGE = "@supervm/sdk"
#: The oldest Node.js asc 0.28 runs on.
MIN_NODE = (20, 0)
#: How long one node run may take before it is considered hung, in seconds.
TIMEOUT = 600.0
#: The one-line fix for a missing npm toolchain.
#: The WebAssembly features asc enables by default; wasm-opt must know them.
WASM_FEATURES = (
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
)


@attrs.frozen
class Toolchain:
    """Where each tool is.

    :param node: the ``node`` executable.
    :param node_modules: the ``node_modules`` directory asc, the SDK and binaryen come from.
    :param asc: asc's ES module (``assemblyscript/dist/asc.js``).
    :param sdk: the ``@supervm/sdk`` package directory.
    :param wasm_opt: binaryen's ``wasm-opt`` script, if binaryen is installed.
    """

    node: str
    node_modules: Path
    asc: Path
    sdk: Path
    wasm_opt: Path | None

    @property
    def transform(self) -> Path:
        """The SDK's asc transform."""
        return self.sdk / "transform" / "index.js"


@attrs.frozen
class AscJob:
    """One asc run: ``entry`` relative to ``base_dir``, with extra arguments."""

    entry: str
    base_dir: Path
    args: tuple[str, ...]


@attrs.frozen
class AscResult:
    """What asc produced for one job: the module (``None`` if it failed) and its messages."""

    wasm: bytes | None
    stderr: str


def find_node() -> str:
    """The ``node`` executable on ``PATH``, checked to be recent enough for asc."""
    path = shutil.which("node")
    if path is None:
        raise ToolchainError(
            "Node.js is needed to run the AssemblyScript compiler (no `node` on PATH): install "
            "Node.js 20+ (e.g. apt-get install nodejs npm), then run `make install`"
        )
    version = _node_version(path)
    if version < MIN_NODE:
        raise ToolchainError(
            f"asc needs Node.js {MIN_NODE[0]}+, but {path} is "
            f"{'.'.join(map(str, version))}: install a newer Node.js"
        )
    return path


_NODE_VERSIONS: dict[str, tuple[int, ...]] = {}


def _node_version(path: str) -> tuple[int, ...]:
    if path not in _NODE_VERSIONS:
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=60, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ToolchainError(f"cannot run {path} --version: {exc}") from None
        match = re.match(r"v(\d+)\.(\d+)", out.strip())
        _NODE_VERSIONS[path] = (int(match[1]), int(match[2])) if match else (0, 0)
    return _NODE_VERSIONS[path]


def find_toolchain(explicit: Path | None, starts: Iterable[Path]) -> Toolchain:
    """The toolchain from ``explicit`` if given, else from the first ``node_modules`` above
    ``starts`` that has asc."""
    dirs = node_modules_dirs(explicit, () if explicit is not None else starts)
    node = find_node()
    for directory in dirs:
        asc = directory / "assemblyscript" / "dist" / "asc.js"
        if not asc.is_file():
            continue
        sdk = directory / SDK_PACKAGE
        if not (sdk / "transform" / "index.js").is_file():
            raise ToolchainError(
                f"the {SDK_PACKAGE} npm package is missing from {directory} "
                f"(assemblyscript is there): {FIX}"
            )
        wasm_opt = directory / "binaryen" / "bin" / "wasm-opt"
        return Toolchain(
            node=node,
            node_modules=directory,
            asc=asc,
            sdk=sdk.resolve(),
            wasm_opt=wasm_opt if wasm_opt.is_file() else None,
        )
    searched = ", ".join(str(d) for d in dirs) or "no node_modules directory found"
    raise ToolchainError(
        f"the AssemblyScript compiler (npm package assemblyscript) was not found "
        f"(searched: {searched}): {FIX}"
    )


def run_asc(toolchain: Toolchain, jobs: Sequence[AscJob]) -> tuple[str, list[AscResult]]:
    """Run asc for each job in one ``node`` process: (asc version, results)."""
    request = {
        "asc": str(toolchain.asc),
        "transform": str(toolchain.transform),
        "jobs": [
            {"entry": j.entry, "baseDir": str(j.base_dir), "args": list(j.args)} for j in jobs
        ],
    }
    proc = run_node_driver(toolchain.node, PACKAGE, DRIVER, request, what="asc", timeout=TIMEOUT)
    if proc.returncode != 0:
        raise AscCrash(proc.stderr or proc.stdout or f"exit status {proc.returncode}")
    try:
        response = json.loads(proc.stdout)
        results = [
            AscResult(
                wasm=base64.b64decode(r["wasm"]) if r["ok"] else None, stderr=str(r["stderr"])
            )
            for r in response["results"]
        ]
        return str(response["version"]), results
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ToolchainError(f"the asc driver returned malformed output ({exc}): {FIX}") from None


class AscCrash(Exception):
    """asc exited instead of reporting (it crashed, or the driver failed); args[0]: its output."""


def run_wasm_opt(toolchain: Toolchain, wasm: bytes, flags: Sequence[str] = ("-O3",)) -> bytes:
    """``wasm-opt`` over ``wasm`` with ``flags``; the optimised module."""
    if toolchain.wasm_opt is None:
        raise ToolchainError(
            f"wasm-opt (npm package binaryen) is missing from {toolchain.node_modules}: {FIX}"
        )
    with tempfile.TemporaryDirectory(prefix="supervm-wasm-opt-") as tmp:
        src = Path(tmp) / "in.wasm"
        dst = Path(tmp) / "out.wasm"
        src.write_bytes(wasm)
        try:
            proc = subprocess.run(
                [toolchain.node, str(toolchain.wasm_opt), str(src), *flags, *WASM_FEATURES,
                 "-o", str(dst)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )  # fmt: skip
        except OSError as exc:
            raise ToolchainError(f"cannot run wasm-opt: {exc.strerror}: {FIX}") from None
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"wasm-opt did not finish within {TIMEOUT:.0f} s") from None
        if proc.returncode != 0 or not dst.is_file():
            detail = " ".join((proc.stderr or proc.stdout).split())[:500]
            raise ToolchainError(f"wasm-opt failed: {detail or f'exit {proc.returncode}'}")
        return dst.read_bytes()


def wasm_opt_version(toolchain: Toolchain) -> str | None:
    """binaryen's package version, e.g. ``132.0.0``."""
    package = toolchain.node_modules / "binaryen" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None
