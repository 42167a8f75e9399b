"""The kernel's own commands, error handling and plugin-contributed command groups."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from supervm import Kernel, hookimpl
from supervm.builtins import scheduler_serial
from supervm.cli.main import KernelState, cli
from supervm.plugins.registry import CommandRegistry


class ToolsPlugin:
    @hookimpl
    def supervm_register_commands(self, registry: CommandRegistry) -> None:
        @click.command("ping")
        def ping() -> None:
            """Answer pong."""
            click.echo("pong")

        registry.add_command(ping, group="tools")


def _state() -> KernelState:
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("tools", ToolsPlugin())],
    )
    return KernelState((), False, kernel)


def test_plugin_command_in_a_new_group_is_reachable() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["tools", "ping"], obj=_state())
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "pong"
    listing = runner.invoke(cli, ["--help"], obj=_state())
    assert "tools" in listing.output


def test_plugins_json_lists_each_plugin() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"], obj=_state())
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)}
    assert plugins["tools"]["hooks"] == ["supervm_register_commands"]
    assert plugins["scheduler_serial"]["enabled"] is True
    assert set(plugins["tools"]) == {"name", "distribution", "version", "hooks", "enabled", "error"}


@pytest.mark.slow
def test_unknown_plugin_is_a_one_line_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "supervm.cli", "--plugin", "nope", "plugins"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        proc.stderr.strip(),
    ]
    assert "no plugin named 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_verbose_and_json_logs(tmp_path: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "supervm.cli", "-vv", "--log-json", "plugins"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "expected debug log lines on stderr"
    assert {"time", "level", "logger", "message"} <= set(lines[0])
