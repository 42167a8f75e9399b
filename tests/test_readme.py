"""The README's command-line block runs as written, pasted in order into a shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.index("## The command line")
    start = text.index("```sh\n", section) + len("```sh\n")
    block = text[start : text.index("```", start)].replace("\\\n", " ")
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_block_holds_the_documented_flow() -> None:
    commands = " ".join(_commands())
    for needed in ("wasm deploy build/ERC20.json", "--fn transfer", "--fn balanceOf", "accounts"):
        assert needed in commands
    assert not re.search(r"0x[0-9a-fA-F]*\.\.\.", commands)  # no placeholder addresses


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    if not (ROOT / "node_modules").is_dir():
        pytest.skip("the npm toolchain is not installed (make install)")
    # A fresh directory that looks like the checkout: the same examples, venv and toolchain.
    for name in ("examples", "node_modules"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k != "SUPERVM_DATA_DIR"}
    outputs = []
    for command in _commands():
        if " bench " in command:
            continue  # benchmarks run for minutes; their own tests cover them
        proc = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        outputs.append(proc.stdout)
    assert "returns: 5" in outputs[-1]  # the balance after the documented transfer
    assert (tmp_path / ".supervm").is_dir()


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for block in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (block, proc.stderr)
