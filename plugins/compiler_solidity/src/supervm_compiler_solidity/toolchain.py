"""Finding and running the Solidity toolchain: Node.js and solc-js from ``node_modules``.

Every compile runs one ``node`` process with :data:`DRIVER` (``driver.js``, shipped in this
package): loading solc-js takes about 0.4 s, so all sources of one ``compile`` call go to solc in
one standard JSON input. Nothing is ever downloaded: solc-js is the npm package ``make install``
put in ``node_modules``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from supervm.errors import ToolchainError
from supervm.tooling.toolchain import FIX, run_node_driver

#: This package, which ships the driver.
PACKAGE = "supervm_compiler_solidity"
#: The JavaScript driver solc-js runs in.
DRIVER = "driver.js"
#: How long one solc run may take before it is considered hung, in seconds.
TIMEOUT = 600.0
#: The one-line fix for a missing npm toolchain.


@attrs.frozen
class SolcRun:
    """What one driver run returned.

    :param version: the exact solc-js version, e.g. ``0.8.37+commit.f401782d.Emscripten.clang``.
    :param output: solc's standard JSON output.
    :param resolved: imported source unit name -> the file it was read from.
    """

    version: str
    output: Mapping[str, Any]
    resolved: Mapping[str, str]


def find_node(node: str | None = None) -> str:
    """The ``node`` executable: ``node`` if given, else the one on ``PATH``."""
    path = node if node is not None else shutil.which("node")
    if path is None or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        where = f"{node!r} is not an executable" if node is not None else "no `node` on PATH"
        raise ToolchainError(
            f"Node.js is needed to run solc-js ({where}): install Node.js 18+ "
            "(e.g. apt-get install nodejs npm), then run `make install`"
        )
    return path


def find_solc(dirs: Sequence[Path]) -> Path:
    """The solc-js package directory in the first of ``dirs`` that has one."""
    for directory in dirs:
        package = directory / "solc"
        if (package / "package.json").is_file() and (package / "soljson.js").is_file():
            return package
    searched = ", ".join(str(d) for d in dirs) or "no node_modules directory found"
    raise ToolchainError(f"solc-js (npm package solc) not found (searched: {searched}): {FIX}")


def run_solc(
    node: str,
    solc: Path,
    base: Path,
    node_modules: Sequence[Path],
    standard_input: Mapping[str, Any],
) -> SolcRun:
    """Compile ``standard_input`` with solc-js in one ``node`` process."""
    request = {
        "solc": str(solc),
        "base": str(base),
        "node_modules": [str(d) for d in node_modules],
        "input": standard_input,
    }
    proc = run_node_driver(node, PACKAGE, DRIVER, request, what="solc-js", timeout=TIMEOUT)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        raise ToolchainError(f"solc-js failed: {detail}: {FIX}")
    try:
        response = json.loads(proc.stdout)
        return SolcRun(
            version=str(response["version"]),
            output=response["output"],
            resolved=dict(response["resolved"]),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ToolchainError(f"solc-js returned malformed output ({exc}): {FIX}") from None
