"""``supervm node`` as a user runs it: its errors, its start-up output, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from supervm.cli.logs import JsonFormatter
from supervm.cli.main import cli

SUPERVM = str(Path(sys.executable).parent / "supervm")


def test_a_node_needs_a_data_dir_unless_dev() -> None:
    result = CliRunner().invoke(cli, ["node"], env={"SUPERVM_DATA_DIR": ""})
    assert result.exit_code == 2
    assert "give --data-dir DIR (or --dev" in result.output


def test_once_needs_a_demo() -> None:
    result = CliRunner().invoke(cli, ["node", "--dev", "--once"])
    assert result.exit_code == 2
    assert "--once stops the node after --demo" in result.output


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPERVM_DATA_DIR"}
    return subprocess.Popen(
        [SUPERVM, "node", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until_serving(proc: subprocess.Popen[str], timeout: float = 60) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "JSON-RPC server" in line:
            return lines
    proc.kill()
    raise AssertionError(f"the node did not come up: {lines} {proc.communicate()[1]}")


@pytest.mark.slow
def test_dev_node_prints_its_accounts_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = start("--dev", "--rpc-port", "0", "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    lines = read_until_serving(proc)
    text = "\n".join(lines)
    assert "Account #0: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (10000 ETH)" in text
    assert "Private Key: 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" in text
    assert "Account #9:" in text and "Account #10:" not in text
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "d" / "chain").is_dir()  # kept: it was asked for


@pytest.mark.slow
def test_a_bad_validator_key_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("0x1234\n")
    proc = start("--dev", "--rpc-port", "0", "--validator-key", str(key), cwd=tmp_path)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "a validator key is 32 bytes (64 hex digits), got 4 digits" in err
    assert "Traceback" not in err


def poa_genesis_file(tmp_path: Path, authority: bytes) -> Path:
    from supervm.chain.dev_accounts import dev_accounts
    from supervm_consensus_poa import poa_genesis

    path = tmp_path / "genesis.json"
    genesis = poa_genesis([authority], accounts=[a.address for a in dev_accounts()])
    path.write_text(json.dumps(genesis))
    return path


@pytest.mark.slow
def test_a_key_that_is_not_an_authority_is_refused(tmp_path: Path) -> None:
    from supervm.chain.dev_accounts import dev_account

    key = tmp_path / "key"
    key.write_text("11" * 32)
    genesis = poa_genesis_file(tmp_path, dev_account(1).address)
    proc = start(
        "--genesis",
        str(genesis),
        "--data-dir",
        str(tmp_path / "d"),
        "--rpc-port",
        "0",
        "--validator-key",
        str(key),
        cwd=tmp_path,
    )
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "is not an authority of this chain" in err
    assert "Traceback" not in err


def test_json_log_lines_carry_a_records_fields() -> None:
    import logging

    record = logging.LogRecord("supervm.node", logging.INFO, "", 0, "sealed %d", (5,), None)
    record.fields = {"event": "block_sealed", "number": 5, "message": "not overwritten"}
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "block_sealed" and line["number"] == 5
    assert line["message"] == "sealed 5"
