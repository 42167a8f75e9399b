"""A Hardhat 2 project with Solidity contracts runs its own mocha tests against SuperVM, unchanged.

``hardhat-solidity/`` is laid out as ``npx hardhat init`` makes a JavaScript project: contracts
compiled by Hardhat (solc-js 0.8.37 from node_modules, evmVersion cancun), tests with
hardhat-ethers, chai and hardhat-chai-matchers (events, token and ether balance changes, custom
errors, reason strings, panics, EIP-2612 permits signed with EIP-712, CREATE2). The same tests
pass on Hardhat's own in-process network (``npx hardhat test``); here they run with
``--network supervm`` against the node the session started, signing with Hardhat's HD wallet
from the dev mnemonic.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import EvmNode, NodeLog

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent / "hardhat-solidity"
#: Compiling (solc-js) and 10 tests of a few transactions each: well within this.
TIMEOUT = 300.0
#: Colour codes: Hardhat's and mocha's terminal libraries turn colours on when CI is set.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IT = re.compile(r"^\s*it\(", re.MULTILINE)


def test_hardhat_project_tests_pass_on_supervm(
    evm_node: EvmNode, node_log: NodeLog, tmp_path: Path
) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx (npm) is needed for the Hardhat test (apt-get install npm)")
    home = tmp_path / "home"
    env = {
        **os.environ,
        "SUPERVM_RPC_URL": evm_node.url,
        "HARDHAT_CACHE_DIR": str(tmp_path / "hardhat"),
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "CI": "true",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        # Hardhat keeps compilers, telemetry consent and analytics ids in the user's folders.
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run(
        # --no: never install anything; hardhat must resolve from the repository's node_modules.
        [npx, "--no", "hardhat", "test", "--network", "supervm"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    out = _ANSI.sub("", result.stdout + result.stderr)
    context = f"exit {result.returncode}\n{out[-8000:]}\n--- node log ---\n{node_log()}"
    assert result.returncode == 0, context
    expected = sum(len(_IT.findall(p.read_text())) for p in (PROJECT / "test").glob("*.js"))
    assert expected >= 10
    passing = re.search(r"^\s*(\d+) passing", out, re.MULTILINE)
    assert passing is not None, context
    assert int(passing.group(1)) == expected, context
    assert not re.search(r"^\s*\d+ (failing|pending)", out, re.MULTILINE), context
    assert "Compiled" in out and "evm target: cancun" in out, context
    # Hardhat compiled with the solc-js of node_modules: it fetched no compiler.
    assert "Downloading compiler" not in out
    assert not list(home.glob("cache/hardhat-nodejs/compilers*")), "hardhat fetched solc"
    assert not (PROJECT / "cache").exists() and not (PROJECT / "artifacts").exists()
