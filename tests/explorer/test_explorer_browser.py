"""The explorer in a real browser: a ``supervm node --dev`` process serving it, the example ERC20
deployed and transferred by signed transactions, its artifact registered with
``supervm_registerArtifact``, then headless Chromium (Debian's ``chromium``, driven by npm's
``playwright-core`` in ``browse.mjs``) finds the block, opens the transaction, sees the decoded
``transfer`` call and ``Transfer`` event, opens the token's page, searches by hash, and takes a
screenshot of each page into the test's folder.

``SUPERVM_EXPLORER_SCREENSHOTS=docs/explorer`` also copies the screenshots there (how the ones in
``docs/explorer.md`` were made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from supervm.chain.dev_accounts import DevAccount, dev_accounts
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    UnsignedTransaction,
    encode_transaction,
    sign_transaction,
)
from supervm.tooling import abi as ethabi

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SUPERVM_CHROMIUM", "/usr/bin/chromium"))
STATIC = REPO_ROOT / "plugins/explorer/src/supervm_explorer/static"
_SERVING = re.compile(r"Started HTTP and WebSocket JSON-RPC server at (http://\S+)")
_EXPLORER = re.compile(r"Explorer at (http://\S+)")
_TIMEOUT = 60.0
SUPPLY = 1_000_000 * 10**18
AMOUNT = 250 * 10**18

pytestmark = pytest.mark.slow


def _supervm() -> Path:
    path = Path(sys.executable).with_name("supervm")
    if not path.exists():
        pytest.fail(f"no supervm command next to {sys.executable}: run `make install`")
    return path


class _Client:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            self.url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, account: DevAccount, to: bytes | None, data: bytes, gas: int) -> dict[str, Any]:
        nonce = int(
            self.call("eth_getTransactionCount", "0x" + account.address.hex(), "pending"), 16
        )
        tx = sign_transaction(
            UnsignedTransaction(
                type=DYNAMIC_FEE_TX_TYPE,
                chain_id=31337,
                nonce=nonce,
                max_priority_fee_per_gas=10**9,
                max_fee_per_gas=10 * 10**9,
                gas=gas,
                to=to,
                data=data,
            ),
            account.private_key,
        )
        tx_hash = self.call("eth_sendRawTransaction", "0x" + encode_transaction(tx).hex())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            time.sleep(0.05)
        raise AssertionError(f"{tx_hash} was not included within 30 s")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(empty)"


@pytest.fixture(scope="module")
def explorer_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """``supervm node --dev --rpc-port 0`` and the ERC20 compiled meanwhile: the RPC URL, the
    explorer's URL and the artifact's path."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make install does)")
    if not (STATIC / "index.html").exists():
        pytest.fail("the explorer is not built: npm run build -w @supervm/explorer")
    work = tmp_path_factory.mktemp("explorer-node")
    artifacts = work / "artifacts"
    compiler = subprocess.Popen(
        [
            str(_supervm()),
            "compile",
            str(REPO_ROOT / "examples/contracts/erc20-as"),
            "--out",
            str(artifacts),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
    )
    stdout, stderr = work / "stdout.txt", work / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [str(_supervm()), "node", "--dev", "--rpc-port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=work,
        )
    try:
        output, _ = compiler.communicate(timeout=180)
        assert compiler.returncode == 0, output
        deadline = time.monotonic() + _TIMEOUT
        while not _SERVING.search(stdout.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the node did not serve\n{_tail(stdout)}\n{_tail(stderr)}")
            time.sleep(0.05)
        text = stdout.read_text()
        rpc = _SERVING.search(text)
        explorer = _EXPLORER.search(text)
        assert rpc is not None
        assert explorer is not None, f"the node did not announce the explorer\n{text[-2000:]}"
        yield rpc.group(1), explorer.group(1), artifacts / "ERC20.json"
    finally:
        for started in (compiler, proc):
            if started.poll() is None:
                started.send_signal(signal.SIGINT)
                try:
                    started.wait(10)
                except subprocess.TimeoutExpired:
                    started.kill()
                    started.wait()


def test_explorer_in_a_browser(explorer_node: tuple[str, str, Path], tmp_path: Path) -> None:
    rpc_url, explorer_url, artifact_path = explorer_node
    assert explorer_url == rpc_url  # served at / on the RPC port by default
    client = _Client(rpc_url)
    accounts = dev_accounts()
    artifact = json.loads(artifact_path.read_text())
    abi = artifact["abi"]
    args = encode(["string", "string", "uint256"], ["Super Token", "SUP", SUPPLY])
    deploy = client.send(
        accounts[0], None, bytes.fromhex(artifact["bytecode"][2:]) + args, 9_000_000
    )
    assert deploy["status"] == "0x1", deploy
    token = deploy["contractAddress"]
    data = ethabi.encode_call(abi, "transfer", ["0x" + accounts[1].address.hex(), AMOUNT])
    transfer = client.send(accounts[0], bytes.fromhex(token[2:]), data, 500_000)
    assert transfer["status"] == "0x1", transfer
    # Account 7 holds no tokens: this transfer reverts (explicit gas: the pool takes it).
    failing = ethabi.encode_call(abi, "transfer", ["0x" + accounts[8].address.hex(), 5])
    failed = client.send(accounts[7], bytes.fromhex(token[2:]), failing, 300_000)
    assert failed["status"] == "0x0"
    registered = client.call("supervm_registerArtifact", artifact)
    assert registered["name"] == "ERC20"

    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the browser test (apt-get install nodejs)")
    checksummed = client.call("supervm_contractInfo", token)["address"]
    env = {
        **os.environ,
        "EXPLORER_URL": explorer_url,
        "RPC_URL": rpc_url,
        "TX_HASH": transfer["transactionHash"],
        "BLOCK": str(int(transfer["blockNumber"], 16)),
        "TOKEN": checksummed,
        "FAILED_TX": failed["transactionHash"],
        "SENDER": "0x" + accounts[2].address.hex(),
        "OUT_DIR": str(tmp_path),
        "CHROMIUM": str(CHROMIUM),
    }
    run = subprocess.run(
        [node, str(Path(__file__).with_name("browse.mjs"))],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0 and lines, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    seen: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in seen, seen["error"]
    assert seen["pageErrors"] == [] and seen["console"] == [], seen

    # Home: the block and the transfer listed, and a new transaction arriving live.
    assert seen["homeHasBlock"] >= 1 and seen["homeHasTx"] >= 1
    assert seen["liveTx"]
    # The block page: its header fields and sealer.
    assert seen["blockTitle"] == f"Block #{env['BLOCK']}"
    for label in ("Hash", "Parent", "Sealer (coinbase)", "Gas used", "Base fee", "State root"):
        assert label in seen["blockFields"]
    # The transaction: status, fee, the decoded call and event.
    assert seen["txUrl"].endswith(f"#/tx/{transfer['transactionHash']}")
    assert "success" in seen["txFields"] and "Fee" in seen["txFields"]
    assert "transfer" in seen["call"] and "transfer(address,uint256)" in seen["call"]
    assert "250,000,000,000,000,000,000" in seen["call"]
    assert "Transfer" in seen["logs"] and "Transfer(address,address,uint256)" in seen["logs"]
    # The token: kind, code, ABI, events and storage.
    assert "ERC20" in seen["addressTitle"] and "WASM contract" in seen["addressTitle"]
    assert "WebAssembly" in seen["addressFields"] and "Code hash" in seen["addressFields"]
    assert (
        "transfer(address to, uint256 value)" in seen["addressAbi"]
        or "transfer(" in seen["addressAbi"]
    )
    assert "Transfer" in seen["addressEvents"]
    assert seen["storageRows"] >= 3
    assert transfer["transactionHash"][:10] in seen["addressTxs"]
    # The reverted transfer's reason, found by replaying its block.
    assert seen["revertReason"] == "ERC20: transfer amount exceeds balance"
    # Search.
    assert seen["searchHashUrl"].endswith(f"#/tx/{transfer['transactionHash']}")
    assert seen["searchBlockUrl"].endswith(f"#/block/{env['BLOCK']}")
    assert seen["searchAddressUrl"].lower().endswith(f"#/address/{token.lower()}")
    assert "Nothing found" in seen["searchNothing"]
    # A phone's width: nothing wider than the screen.
    assert seen["phoneOverflow"] <= 0 and seen["phoneHomeOverflow"] <= 0, seen
    names = sorted(Path(p).name for p in seen["screenshots"])
    assert names == sorted(
        f"{n}.png"
        for n in (
            "home",
            "block",
            "transaction",
            "address",
            "transaction-reverted",
            "search-by-hash",
            "transaction-phone",
            "home-phone",
        )
    )
    for path in seen["screenshots"]:
        assert Path(path).stat().st_size > 5000
    docs = os.environ.get("SUPERVM_EXPLORER_SCREENSHOTS")
    if docs:
        target = REPO_ROOT / docs
        target.mkdir(parents=True, exist_ok=True)
        for path in seen["screenshots"]:
            shutil.copy(path, target / Path(path).name)
