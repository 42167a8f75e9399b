"""The SDK's own Node.js tests (``npm test`` in sdk/assemblyscript): the transform's keccak and
type mapping, and the test contracts run against a mock host in Node's WebAssembly engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SDK = Path(__file__).resolve().parents[3] / "sdk" / "assemblyscript"


def test_sdk_node_tests_pass() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed: run `make install`"
    proc = subprocess.run(
        [node, "tests/run.mjs"], cwd=SDK, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "# fail 0" in proc.stdout
