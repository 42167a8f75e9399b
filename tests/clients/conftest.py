"""One dev node for the whole session, and the WASM ERC20 artifact, for the real-client tests.

The clients (web3.py, ethers v6, viem, Hardhat 2) are used exactly as a contract developer would
use them against any Ethereum node: nothing in them knows SuperVM. The node is the real
``supervm node --dev`` process, started once (it takes a few seconds) and shared; each test deploys
its own token and reads balances relative to what it found, so the tests do not depend on their
order. Each client signs with its own dev account so their nonces never interleave.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm_rpc.testing import NodeProcess

#: The repository root: the npm packages the JavaScript clients need are in its node_modules/.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Starting the node is a Python import, a chain open and a socket bind: seconds, not minutes.
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 10.0
_COMPILE_TIMEOUT = 180.0
#: A client script deploys, transfers and waits for a few blocks: well within this.
_SCRIPT_TIMEOUT = 90.0
CHAIN_ID = 31337


@attrs.frozen
class DevNode:
    """A running ``supervm node --dev``.

    :param url: its HTTP JSON-RPC endpoint, ``http://127.0.0.1:PORT/``.
    :param ws_url: the WebSocket endpoint on the same port, ``ws://127.0.0.1:PORT/``.
    :param stderr_path: the file its log goes to (shown when a test fails because of it).
    """

    url: str
    ws_url: str
    stderr_path: Path


def _supervm() -> Path:
    """The ``supervm`` console script of the interpreter running the tests (.venv/bin/)."""
    path = Path(sys.executable).with_name("supervm")
    if not path.exists():
        pytest.fail(f"no supervm command next to {sys.executable}: run `make install`")
    return path


def _tail(path: Path, limit: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:] or "(empty)"


@attrs.frozen
class _Started:
    node: DevNode
    artifact: Path


def _compile_erc20(out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(_supervm()), "compile", str(REPO_ROOT / "examples/contracts/erc20-as"), "--out", out],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
    )


def _wait_for_artifact(compiler: subprocess.Popen[str], path: Path) -> Path:
    try:
        output, _ = compiler.communicate(timeout=_COMPILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        compiler.kill()
        output, _ = compiler.communicate()
        pytest.fail(f"supervm compile took over {_COMPILE_TIMEOUT:.0f} s\n{output}")
    if compiler.returncode != 0 or not path.exists():
        pytest.fail(f"supervm compile failed (exit {compiler.returncode})\n{output}")
    return path


@pytest.fixture(scope="session")
def _started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Started]:
    """Start the node and compile the ERC20 at once: both take seconds, so they overlap."""
    work = tmp_path_factory.mktemp("dev-node")
    artifact_dir = tmp_path_factory.mktemp("erc20-artifact")
    compiler = _compile_erc20(artifact_dir)
    node = NodeProcess(
        [str(_supervm()), "node", "--dev", "--rpc-port", "0", "--data-dir", str(work / "data")],
        work,
    )
    try:
        artifact = _wait_for_artifact(compiler, artifact_dir / "ERC20.json")
        url = node.wait_until_serving(_START_TIMEOUT)
    except BaseException:
        if compiler.poll() is None:
            compiler.kill()
            compiler.wait()
        node.kill()
        raise
    dev = DevNode(url=url, ws_url="ws" + url.removeprefix("http"), stderr_path=node.stderr_path)
    try:
        yield _Started(node=dev, artifact=artifact)
    finally:
        node.stop(_STOP_TIMEOUT)


@pytest.fixture(scope="session")
def dev_node(_started: _Started) -> DevNode:
    """``supervm node --dev --rpc-port 0``, one for the session, stopped with SIGINT at its end."""
    return _started.node


@pytest.fixture(scope="session")
def node_url(dev_node: DevNode) -> str:
    """The dev node's HTTP JSON-RPC URL."""
    return dev_node.url


@pytest.fixture(scope="session")
def ws_url(dev_node: DevNode) -> str:
    """The dev node's WebSocket JSON-RPC URL."""
    return dev_node.ws_url


@pytest.fixture(scope="session")
def erc20_artifact_path(_started: _Started) -> Path:
    """``examples/contracts/erc20-as`` compiled once: the path of its ``ERC20.json`` artifact."""
    return _started.artifact


@pytest.fixture(scope="session")
def erc20_artifact(erc20_artifact_path: Path) -> dict[str, Any]:
    """The ERC20 artifact: ``abi`` (a list) and ``bytecode`` (0x-hex of the WASM module)."""
    artifact: dict[str, Any] = json.loads(erc20_artifact_path.read_text())
    assert artifact["kind"] == "wasm"
    assert artifact["bytecode"].startswith("0x0061736d")  # \0asm
    return artifact


@pytest.fixture(scope="session")
def accounts() -> list[DevAccount]:
    """The ten dev accounts the node funds (the Hardhat/anvil mnemonic)."""
    return dev_accounts()


@attrs.frozen
class ScriptResult:
    """What a JavaScript client script printed.

    :param output: the JSON object on its last stdout line.
    :param stdout: its whole standard output.
    :param stderr: its standard error.
    """

    output: dict[str, Any]
    stdout: str
    stderr: str


RunJs = Callable[..., ScriptResult]


def _node_js() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the JavaScript client tests (apt-get install nodejs)")
    return node


@pytest.fixture(scope="session")
def client_env(dev_node: DevNode, erc20_artifact_path: Path) -> dict[str, str]:
    """The environment a client script runs in: the node's URLs and the artifact's path."""
    env = dict(os.environ)
    env.update(
        SUPERVM_RPC_URL=dev_node.url,
        SUPERVM_WS_URL=dev_node.ws_url,
        SUPERVM_ERC20_ARTIFACT=str(erc20_artifact_path),
        SUPERVM_CHAIN_ID=str(CHAIN_ID),
        # Hardhat asks about telemetry on first use and checks for updates unless told it is CI.
        HARDHAT_DISABLE_TELEMETRY_PROMPT="true",
        CI="true",
        NO_COLOR="1",
    )
    return env


@pytest.fixture(scope="session")
def run_js(client_env: dict[str, str], dev_node: DevNode) -> RunJs:
    """Run a command (``node script.mjs`` by default); fail unless it exits 0 with JSON last."""

    def run(
        argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
    ) -> ScriptResult:
        if argv[0].endswith((".mjs", ".js")):
            argv = [_node_js(), *argv]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=_SCRIPT_TIMEOUT,
            cwd=cwd,
            env={**client_env, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        context = (
            f"{' '.join(argv)} exited with code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-6000:]}\n"
            f"--- node log (tail) ---\n{_tail(dev_node.stderr_path, 3000)}"
        )
        if result.returncode != 0 or not lines:
            pytest.fail(context)
        try:
            output = json.loads(lines[-1])
        except json.JSONDecodeError:
            pytest.fail(f"the last line is not JSON\n{context}")
        if not isinstance(output, dict):
            pytest.fail(f"the last line is not a JSON object\n{context}")
        return ScriptResult(output=output, stdout=result.stdout, stderr=result.stderr)

    return run
