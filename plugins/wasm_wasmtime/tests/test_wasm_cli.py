"""``supervm wasm run``, ``supervm demo``, ``supervm plugins`` and ``supervm bench wasm-call``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from supervm.cli.main import cli

ADD = (
    '(module (func (export "add") (param i32 i32) (result i32)'
    " (i32.add (local.get 0) (local.get 1))))"
)
CONTEXT = """
(module
  (import "supervm" "block_number" (func $bn (result i64)))
  (import "supervm" "timestamp" (func $ts (result i64)))
  (import "supervm" "caller" (func $caller (param i32)))
  (import "supervm" "self_address" (func $self (param i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "block_number") (result i64) (call $bn))
  (func (export "timestamp") (result i64) (call $ts))
  (func (export "who")
    (call $caller (i32.const 0))
    (call $self (i32.const 20))
    (call $ret (i32.const 0) (i32.const 40)))
  (func (export "echo")
    (call $rin (i32.const 100))
    (drop (call $emit (i32.const 100) (call $ilen)))
    (call $ret (i32.const 100) (call $ilen))))
"""
TRAP = '(module (func (export "call") unreachable))'
JSON_KEYS = {"ok", "value", "return_data", "events", "logs", "gas_used", "error"}

SUPERVM = Path(sys.executable).with_name("supervm")


def demo_path(name: str) -> Path:
    return Path(str(resources.files("supervm_wasm_wasmtime").joinpath("demo", name)))


@pytest.fixture
def module(tmp_path: Path):
    """Write WAT text to a file and return its path."""

    def write(text: str, name: str = "m.wat") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def supervm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    if not SUPERVM.exists():
        pytest.skip(f"{SUPERVM} is not installed")
    return subprocess.run(
        [str(SUPERVM), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),  # carries the test's SUPERVM_CACHE_DIR
    )


def one_json_line(text: str) -> Any:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return json.loads(lines[0])


# -- wasm run ----------------------------------------------------------------------------------


def test_wasm_run_add_json(module) -> None:
    result = invoke("wasm", "run", module(ADD), "--call", "add", "2", "3", "--json")
    assert result.exit_code == 0, result.output
    data = one_json_line(result.stdout)
    assert set(data) == JSON_KEYS
    assert data["ok"] is True
    assert data["value"] == 5
    assert data["return_data"] == "0x"
    assert data["events"] == [] and data["logs"] == []
    assert data["gas_used"] > 0
    assert data["error"] is None


def test_wasm_run_demo_add_text_output() -> None:
    result = invoke("wasm", "run", demo_path("add.wat"), "--call", "add", "2", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "value: 5"
    assert result.stdout.splitlines()[-1].startswith("gas used: ")


@pytest.mark.parametrize(
    ("args", "value"), [(["0x10", "1"], 17), (["-1", "5"], 4), (["--", "-7", "2"], -5)]
)
def test_wasm_run_integer_forms(module, args: list[str], value: int) -> None:
    result = invoke("wasm", "run", module(ADD), "--call", "add", "--json", *args)
    assert result.exit_code == 0, result.output
    assert one_json_line(result.stdout)["value"] == value


def test_wasm_run_binary_module(tmp_path: Path, wat) -> None:
    path = tmp_path / "add.wasm"
    path.write_bytes(wat(ADD))
    result = invoke("wasm", "run", path, "--call", "add", "1", "1", "--json")
    assert result.exit_code == 0, result.output
    assert one_json_line(result.stdout)["value"] == 2


def test_wasm_run_context_options(module) -> None:
    path = module(CONTEXT)
    base = ["wasm", "run", path, "--json", "--block-number", "42", "--timestamp", "1700000000"]
    assert one_json_line(invoke(*base, "--call", "block_number").stdout)["value"] == 42
    assert one_json_line(invoke(*base, "--call", "timestamp").stdout)["value"] == 1_700_000_000
    caller, address = "ab" * 20, "0x" + "cd" * 20
    who = invoke(*base, "--call", "who", "--caller", caller, "--address", address)
    assert one_json_line(who.stdout)["return_data"] == "0x" + "ab" * 20 + "cd" * 20


def test_wasm_run_input_events_and_text_output(module) -> None:
    path = module(CONTEXT)
    data = one_json_line(
        invoke("wasm", "run", path, "--call", "echo", "--input", "0xcafe", "--json").stdout
    )
    assert data["return_data"] == "0xcafe"
    assert data["events"] == ["0xcafe"]
    text = invoke("wasm", "run", path, "--call", "echo", "--input", "cafe")
    assert "return data: 0xcafe" in text.stdout
    assert "event: 0xcafe" in text.stdout


def test_wasm_run_events_demo_logs_json() -> None:
    result = invoke("wasm", "run", demo_path("events.wat"), "--call", "call", "--json")
    data = one_json_line(result.stdout)
    assert data["ok"] is True
    (log,) = data["logs"]
    assert log["data"] == "0x" + b"hello".hex()
    assert log["topics"] == ["0x" + "00" * 31 + "01", "0x" + "00" * 31 + "02"]


def test_wasm_run_failing_call_json(module) -> None:
    result = invoke("wasm", "run", module(TRAP), "--call", "call", "--json")
    assert result.exit_code == 1
    data = one_json_line(result.stdout)
    assert data["ok"] is False
    assert data["error"] == "trap: unreachable instruction executed"
    assert result.stderr == ""


def test_wasm_run_failing_call_text(module) -> None:
    result = invoke("wasm", "run", module(TRAP), "--call", "call")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: trap: unreachable instruction executed"


def test_wasm_run_revert_demo_exit_code() -> None:
    result = invoke("wasm", "run", demo_path("revert.wat"), "--call", "call", "--json")
    assert result.exit_code == 1
    data = one_json_line(result.stdout)
    assert data["error"] == "revert: execution reverted"
    assert data["return_data"] == "0x" + b"insufficient balance".hex()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["3", "x"], "'x' is not an integer"),
        (["--caller", "zz"], "--caller 'zz' is not hex"),
        (["--address", "00"], "--address must be 20 bytes, got 1"),
        (["--caller", "10"], "--caller 10: dev accounts are numbered 0 to 9"),
        (["--gas", str(2**64)], "is not in the range 0<=x<=18446744073709551615"),
        (["--gas", "99999999999999999999999999"], "0<=x<=18446744073709551615"),
        (["--block-number", str(2**64)], "0<=x<=18446744073709551615"),
        (["--timestamp", "-1"], "0<=x<=18446744073709551615"),
    ],
)
def test_wasm_run_usage_errors(module, args: list[str], message: str) -> None:
    result = invoke("wasm", "run", module(ADD), "--call", "add", "1", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_wasm_run_missing_module_file(tmp_path: Path) -> None:
    result = invoke("wasm", "run", tmp_path / "nope.wat", "--call", "add")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "name", "args", "message"),
    [
        ("not wasm at all", "bad.wasm", [], "\\0asm"),
        ("(module (func", "bad.wat", [], "invalid WebAssembly text"),
        ('(module (import "supervm" "nope" (func)))', "imp.wat", [], "supervm.nope"),
        (ADD, "add.wat", ["--call", "sub"], "module has no exported function 'sub'"),
        (ADD, "add.wat", ["--call", "add", "1"], "takes 2 argument(s)"),
        (TRAP, "trap.wat", ["--call", "call"], "trap: unreachable instruction executed"),
    ],
    ids=["not-wasm", "bad-wat", "unknown-import", "missing-export", "arg-count", "trap"],
)
def test_console_script_errors_are_one_line_without_traceback(
    module, text: str, name: str, args: list[str], message: str
) -> None:
    args = args or ["--call", "call"]
    proc = supervm("wasm", "run", module(text, name), *args)
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


@pytest.mark.slow
def test_console_script_json_run(module) -> None:
    proc = supervm("wasm", "run", module(ADD), "--call", "add", "2", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    data = one_json_line(proc.stdout)
    assert set(data) == JSON_KEYS and data["value"] == 5


def test_wasm_run_lmdb_persists_across_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    counter = demo_path("counter.wat")
    base = ["wasm", "run", counter, "--storage", "lmdb", "--data-dir", data_dir, "--json"]
    values = []
    for _ in range(2):
        result = invoke(*base, "--call", "increment")
        assert result.exit_code == 0, result.output
        values.append(one_json_line(result.stdout)["value"])
    assert values == [1, 2]
    # A failing call commits nothing: the counter goes on from 2.
    reverted = invoke(
        "wasm", "run", demo_path("revert.wat"), "--storage", "lmdb", "--data-dir", data_dir,
        "--call", "call", "--json",
    )  # fmt: skip
    assert reverted.exit_code == 1
    assert one_json_line(invoke(*base, "--call", "increment").stdout)["value"] == 3
    # The memory backend does not persist anything.
    memory = invoke("wasm", "run", counter, "--storage", "memory", "--call", "increment", "--json")
    assert one_json_line(memory.stdout)["value"] == 1


@pytest.mark.slow
def test_console_script_lmdb_persists_across_processes(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    counter = demo_path("counter.wat")
    args = ["wasm", "run", counter, "--storage", "lmdb", "--data-dir", data_dir]
    values = [
        one_json_line(supervm(*args, "--call", "increment", "--json").stdout)["value"]
        for _ in range(2)
    ]
    assert values == [1, 2]


# -- demo, plugins, bench ----------------------------------------------------------------------


def test_demo_once() -> None:
    result = invoke("demo", "--once")
    assert result.exit_code == 0, result.output
    out = result.stdout
    sections = [line for line in out.splitlines() if line.startswith("== ")]
    assert [s.split(":")[0] for s in sections] == [
        "== add",
        "== events",
        "== storage counter",
        "== snapshot and rollback",
    ]
    assert "add(2, 3) = 5" in out
    assert "event: 0x" + b"hello, events".hex() in out
    for block in (1, 2, 3):
        assert f"block {block}: count = {block}" in out
    assert "count 4, then 5 inside a snapshot, rolled back, then 5" in out
    assert "revert: execution reverted ('insufficient balance')" in out
    assert "committed: 1 key(s) in storage" in out
    assert "round 2" not in out


def test_plugins_json_lists_the_wasm_plugin() -> None:
    result = invoke("plugins", "--json")
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in one_json_line(result.stdout)}
    wasm = plugins["wasm_wasmtime"]
    assert wasm["enabled"] is True
    assert wasm["error"] is None
    assert wasm["distribution"] == "supervm-wasm-wasmtime"
    assert set(wasm["hooks"]) == {
        "supervm_register_commands",
        "supervm_register_host_functions",
        "supervm_register_vm",
    }


def test_plugins_text_lists_the_wasm_plugin() -> None:
    result = invoke("plugins")
    assert result.exit_code == 0, result.output
    assert "wasm_wasmtime" in result.stdout
    assert "supervm_register_vm" in result.stdout


def test_bench_wasm_call_json() -> None:
    result = invoke("bench", "wasm-call", "--json", "--calls", "2000", "--rounds", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress with --json
    data = one_json_line(result.stdout)
    assert set(data) == {
        "calls_per_s", "baseline_calls_per_s", "ratio", "native_calls_per_s", "native_ratio"
    }  # fmt: skip
    assert data["native_ratio"] == pytest.approx(
        data["native_calls_per_s"] / data["baseline_calls_per_s"], rel=0.02
    )
    assert data["calls_per_s"] > 0 and data["baseline_calls_per_s"] > 0
    assert data["ratio"] == pytest.approx(
        data["calls_per_s"] / data["baseline_calls_per_s"], rel=0.02
    )


def test_bench_wasm_call_shows_progress_on_stderr() -> None:
    result = invoke("bench", "wasm-call", "--calls", "1", "--rounds", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "  compiling the counter contract",
        "  warming up both sides",
        "  round 1/2: supervm raw call path, 1 calls",
        "  round 1/2: supervm native path, 1 calls",
        "  round 2/2: supervm raw call path, 1 calls",
        "  round 2/2: supervm native path, 1 calls",
        "  round 1/2: wasmtime high-level API, 1,000 calls",
        "  round 2/2: wasmtime high-level API, 1,000 calls",
    ]
    assert "round" not in result.stdout and "compiling" not in result.stdout
    assert "supervm raw call path" in result.stdout and "ratio" in result.stdout


def test_bench_wasm_call_rejects_non_positive_counts() -> None:
    result = invoke("bench", "wasm-call", "--calls", "0")
    assert result.exit_code == 2
    assert "must be positive" in result.stderr


def test_cli_never_writes_the_home_cache(module, tmp_path: Path, _private_cache_dir: Path) -> None:
    assert invoke("wasm", "run", module(ADD), "--call", "add", "1", "2").exit_code == 0
    assert list(_private_cache_dir.rglob("*.cwasm"))  # the CLI used the test's cache dir
