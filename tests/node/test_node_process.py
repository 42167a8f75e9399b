"""The node as a process: the make-run demo, kill -9 under load, and the sealed-block log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    UnsignedTransaction,
    encode_transaction,
    sign_transaction,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SENDERS = dev_accounts(10)[1:]
SINK = bytes.fromhex("00000000000000000000000000000000000000aa")

pytestmark = pytest.mark.slow


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise AssertionError(f"{method}: {answer['error']}")
    return answer["result"]


def batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    body = json.dumps(
        [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    ).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answers = json.loads(response.read())
    return [a.get("result") for a in sorted(answers, key=lambda a: a["id"])]


def start(*args: str, env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPERVM_DATA_DIR"} | (env_extra or {})
    proc = subprocess.Popen(
        [str(BIN / "supervm"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("Started HTTP and WebSocket JSON-RPC server at "):
            return proc, line.split(" at ", 1)[1].strip()
    proc.kill()
    raise AssertionError(f"no JSON-RPC server: {seen} {proc.communicate()[1][-2000:]}")


def transfer(sender_index: int, nonce: int) -> bytes:
    account = SENDERS[sender_index]
    return encode_transaction(
        sign_transaction(
            UnsignedTransaction(
                type=DYNAMIC_FEE_TX_TYPE,
                chain_id=31337,
                nonce=nonce,
                max_priority_fee_per_gas=10**9,
                max_fee_per_gas=100 * 10**9,
                gas=21_000,
                to=SINK,
                value=1,
            ),
            account.private_key,
        )
    )


@pytest.fixture(scope="module")
def erc20_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "node_modules").is_dir():
        pytest.skip("the npm toolchain is not installed (make install)")
    out = tmp_path_factory.mktemp("erc20")
    subprocess.run(
        [
            str(BIN / "supervm"),
            "compile",
            str(ROOT / "examples/contracts/erc20-as"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out / "ERC20.json"


def test_the_make_run_demo_deploys_transfers_and_stops_with_once(erc20_artifact: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SUPERVM_DATA_DIR"}
    proc = subprocess.run(
        [
            str(BIN / "supervm"),
            "node",
            "--dev",
            "--rpc-port",
            "0",
            "--demo",
            str(erc20_artifact),
            "--once",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "- deploy: success" in out
    assert "contract 0x5fbdb2315678afecb367f032d93f642f64180aa3" in out  # as on a fresh Hardhat
    assert out.count("event Transfer(") == 4  # the mint and three transfers
    assert "balanceOf(account 1) = 250 DEMO" in out
    assert "balanceOf(account 0) = 999,608 DEMO" in out


def test_kill_9_under_load_loses_no_sealed_block_and_no_served_receipt(tmp_path: Path) -> None:
    data = tmp_path / "node"
    proc, url = start("--log-json", "node", "--dev", "--rpc-port", "0", "--data-dir", str(data))
    served: dict[str, dict[str, Any]] = {}
    stop = threading.Event()
    nonces = [0] * len(SENDERS)

    def load() -> None:
        while not stop.is_set():
            raws = []
            for i in range(len(SENDERS)):
                for _ in range(10):
                    raws.append(transfer(i, nonces[i]))
                    nonces[i] += 1
            try:
                hashes = batch(url, [("eth_sendRawTransaction", ["0x" + r.hex()]) for r in raws])
                receipts = batch(url, [("eth_getTransactionReceipt", [h]) for h in hashes if h])
            except OSError:
                return  # the node is gone
            for receipt in receipts:
                if receipt is not None:
                    served[receipt["transactionHash"]] = receipt

    loader = threading.Thread(target=load)
    loader.start()
    deadline = time.monotonic() + 60
    while len(served) < 400 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # in the middle of sealing, most likely
    proc.wait(timeout=30)
    stop.set()
    loader.join(timeout=60)
    assert len(served) >= 400, "the node sealed too little under load to test anything"

    proc, url = start("node", "--dev", "--rpc-port", "0", "--data-dir", str(data))
    try:
        head = rpc(url, "eth_getBlockByNumber", "latest", False)
        highest = max(int(r["blockNumber"], 16) for r in served.values())
        assert int(head["number"], 16) >= highest
        for tx_hash, before in served.items():
            after = rpc(url, "eth_getTransactionReceipt", tx_hash)
            assert after is not None, f"{tx_hash}: its receipt was served, then lost"
            assert (after["blockHash"], after["status"]) == (before["blockHash"], before["status"])
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    # Every stored block re-executes to the roots its header states: none is half-written.
    exported = tmp_path / "chain.rlp"
    supervm = str(BIN / "supervm")
    subprocess.run(
        [supervm, "chain", "export", str(exported), "--data-dir", str(data)],
        check=True,
        capture_output=True,
    )
    genesis = tmp_path / "genesis.json"
    _write_genesis_of(data, genesis)
    reimport(exported, genesis, tmp_path / "copy")


def reimport(exported: Path, genesis: Path, copy: Path) -> None:
    """Import an exported chain into a fresh one from the same genesis: every block is
    re-executed and its roots and seal checked."""
    supervm = str(BIN / "supervm")
    subprocess.run(
        [supervm, "chain", "init", "--genesis", str(genesis), "--data-dir", str(copy)],
        check=True,
        capture_output=True,
    )
    imported = subprocess.run(
        [supervm, "chain", "import", str(exported), "--data-dir", str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]


def _write_genesis_of(data: Path, out: Path) -> None:
    """The genesis file the node stored with its chain."""
    from supervm import Kernel
    from supervm.chain.store import ChainStore
    from supervm.state.storage import StorageSettings

    kernel = Kernel.from_plugins()
    with kernel.open_storage("lmdb", StorageSettings(data_dir=data / "chain")) as storage:
        config = ChainStore(storage).config()
    assert config is not None
    out.write_bytes(config)


def test_sealed_blocks_are_logged_as_json_lines(tmp_path: Path) -> None:
    proc, url = start("--log-json", "node", "--dev", "--rpc-port", "0")
    try:
        tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + transfer(0, 0).hex())
        deadline = time.monotonic() + 30
        while rpc(url, "eth_getTransactionReceipt", tx_hash) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    sealed = [json.loads(line) for line in err.splitlines() if '"block_sealed"' in line]
    assert len(sealed) == 1
    assert sealed[0]["number"] == 1 and sealed[0]["transactions"] == 1
    assert sealed[0]["level"] == "info" and sealed[0]["hash"].startswith("0x")


def test_a_poa_node_seals_signed_blocks_that_another_chain_imports(tmp_path: Path) -> None:
    from supervm.chain.dev_accounts import dev_account
    from supervm_consensus_poa import poa_genesis, signer_of

    authority = dev_account(1)
    key = tmp_path / "validator.key"
    key.write_text("0x" + authority.private_key.hex())
    genesis = tmp_path / "genesis.json"
    accounts = [a.address for a in dev_accounts()]
    genesis.write_text(json.dumps(poa_genesis([authority.address], accounts=accounts)))
    data = tmp_path / "node"
    proc, url = start(
        "node",
        "--genesis",
        str(genesis),
        "--data-dir",
        str(data),
        "--rpc-port",
        "0",
        "--validator-key",
        str(key),
    )
    try:
        assert rpc(url, "eth_accounts") == []  # not a dev node: it holds no user keys
        hashes = [rpc(url, "eth_sendRawTransaction", "0x" + transfer(i, 0).hex()) for i in range(3)]
        deadline = time.monotonic() + 30
        while any(rpc(url, "eth_getTransactionReceipt", h) is None for h in hashes):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        head = rpc(url, "eth_getBlockByNumber", "latest", False)
        assert len(bytes.fromhex(head["extraData"][2:])) == 32 + 65  # vanity and Clique seal
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    supervm = str(BIN / "supervm")
    exported = tmp_path / "chain.rlp"
    subprocess.run(
        [supervm, "chain", "export", str(exported), "--data-dir", str(data)],
        check=True,
        capture_output=True,
    )
    blocks = _stored_blocks(data)
    assert len(blocks) >= 2
    assert all(signer_of(b.header) == authority.address for b in blocks[1:])
    reimport(exported, genesis, tmp_path / "copy")


def _stored_blocks(data: Path) -> list[Any]:
    from supervm import Kernel
    from supervm.chain.store import ChainStore
    from supervm.state.storage import StorageSettings

    kernel = Kernel.from_plugins()
    with kernel.open_storage("lmdb", StorageSettings(data_dir=data / "chain")) as storage:
        store = ChainStore(storage)
        head = store.head()
        assert head is not None
        return [store.block_by_number(n) for n in range(head.number + 1)]
