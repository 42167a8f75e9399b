"""Helpers for compiler plugins: running a Node.js driver and writing project templates.

Both of SuperVM's compilers drive npm tools (asc, solc-js) through a small JavaScript driver
that reads one JSON request on stdin and answers on stdout; and both scaffold projects from
``string.Template`` files shipped in their package. The common parts live here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from supervm.errors import ToolchainError

#: What to do when the npm toolchain is missing.
FIX = "run `make install` in the SuperVM checkout, or pass --node-modules DIR"


def run_node_driver(
    node: str,
    package: str,
    driver: str,
    request: Mapping[str, Any],
    *,
    what: str,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``package``'s JavaScript ``driver`` with ``request`` as JSON on stdin.

    Returns the finished process; its exit status and output are the caller's to read.
    ``what`` names the tool in errors (``"solc-js"``).
    """
    script = resources.files(package).joinpath(driver)
    with resources.as_file(script) as script_path:
        try:
            return subprocess.run(
                [node, str(script_path)],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=timeout,
                check=False,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
        except OSError as exc:
            raise ToolchainError(f"cannot run {node}: {exc.strerror}: {FIX}") from None
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"{what} did not finish within {timeout:.0f} s") from None


def contract_name(project: str) -> str:
    """The contract name for a project name: ``my-token`` -> ``MyToken``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", project) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Contract"
    return name if name[0].isalpha() else f"C{name}"


def module_name(contract: str) -> str:
    """snake_case of a contract name, for its test module: ``MyToken`` -> ``my_token``."""
    return re.sub(r"(?<=[0-9a-z])(?=[A-Z])", "_", contract).lower()


def write_templates(
    package: str, files: Mapping[Path, str], values: Mapping[str, str]
) -> list[Path]:
    """Render ``package``'s ``templates/<name>`` files to the given paths with ``values``."""
    for path, name in files.items():
        text = resources.files(package).joinpath("templates", name).read_text()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values))
    return list(files)


def node_modules_dirs(explicit: Path | None, starts: Iterable[Path]) -> list[Path]:
    """``explicit`` (if given), then every ``node_modules`` above each of ``starts``, in order.

    Like Node's own lookup, each start directory contributes ``dir/node_modules``,
    ``dir/../node_modules`` and so on up to the root; duplicates are dropped. Compilers pass
    their own package directory last, so that a project outside the checkout still finds the
    toolchain ``make install`` put in the checkout.
    """
    found: list[Path] = []
    if explicit is not None:
        found.append(explicit.resolve())
    for start in starts:
        start = start.resolve()
        for directory in (start, *start.parents):
            candidate = directory / "node_modules"
            if candidate.is_dir() and candidate.resolve() not in found:
                found.append(candidate.resolve())
    return found
