"""Running the JavaScript packages' own tests (``sdk/js``, ``sdk/hardhat-plugin``) from pytest.

Each package is built with ``tsc`` once per session (its ``npm run build``), so its tests never
run a stale ``dist/``. The JavaScript tests start their own ``supervm node --dev`` (port 0) with
the ``supervm`` command found in this interpreter's ``bin/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Building one package with tsc takes seconds; a test run of one, well under a minute.
_TIMEOUT = 240.0

Npm = Callable[..., subprocess.CompletedProcess[str]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is needed for the JavaScript SDK tests (apt-get install nodejs npm)")
    return path


@pytest.fixture(scope="session")
def js_env() -> dict[str, str]:
    """The environment the JavaScript tests run in: ``supervm`` first on PATH, no telemetry
    prompt, no colours, and no shared SUPERVM_DATA_DIR (each dev node keeps a temporary chain)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SUPERVM_DATA_DIR", "SUPERVM_RPC_URL")}
    supervm = Path(sys.executable).with_name("supervm")
    if not supervm.exists():
        pytest.fail(f"no supervm command next to {sys.executable}: run `make install`")
    env["SUPERVM"] = str(supervm)
    env["PATH"] = f"{supervm.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HARDHAT_DISABLE_TELEMETRY_PROMPT="true", CI="true", NO_COLOR="1", FORCE_COLOR="0")
    return env


@pytest.fixture(scope="session")
def npm(js_env: dict[str, str]) -> Npm:
    """Run ``npm ARGS...`` (in the repository unless ``cwd``); fail with its output unless
    it exits 0."""
    executable = _tool("npm")

    def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [executable, *args],
            cwd=cwd,
            env=js_env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            pytest.fail(
                f"npm {' '.join(args)} exited with {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result

    return run


@pytest.fixture(scope="session")
def built(npm: Npm) -> None:
    """Both packages built (``@supervm/js`` first: the plugin requires its CommonJS build)."""
    npm("run", "build", "--workspace", "sdk/js")
    npm("run", "build", "--workspace", "sdk/hardhat-plugin")
