"""Command-line subcommands contributed through ``supervm_register_commands``."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from supervm import DuplicateNameError, Kernel, PluginError, hookimpl
from supervm.plugins.registry import CommandRegistry


@click.command("hello")
@click.option("--name", default="world")
def hello(name: str) -> None:
    """Say hello."""
    click.echo(f"hello {name}")


@click.command("greet")
def greet() -> None:
    """Greet at the top level."""
    click.echo("greetings")


class CommandsPlugin:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def supervm_register_commands(self, registry: CommandRegistry) -> None:
        self.calls += 1
        registry.add_command(hello, group="bench")
        registry.add_command(greet)


def kernel_of(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


def test_commands_are_registered_under_their_group() -> None:
    kernel = kernel_of(("cmds", CommandsPlugin()))
    commands = kernel.commands()

    assert isinstance(commands, CommandRegistry)
    assert commands.names() == ["bench hello", "greet"]
    assert commands.get("bench hello") is hello
    assert commands.get("greet") is greet
    assert commands.entry("bench hello").plugin == "cmds"


def test_registered_command_runs() -> None:
    command = kernel_of(("cmds", CommandsPlugin())).commands().get("bench hello")
    result = CliRunner().invoke(command, ["--name", "supervm"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello supervm\n"


def test_commands_hook_is_called_only_when_asked() -> None:
    plugin = CommandsPlugin()
    kernel = kernel_of(("cmds", plugin))
    assert plugin.calls == 0  # not when the kernel starts
    kernel.commands()
    kernel.commands()
    assert plugin.calls == 2  # a fresh registry each time, so no duplicates


def test_same_command_in_different_groups_is_fine() -> None:
    class Other:
        @hookimpl
        def supervm_register_commands(self, registry: CommandRegistry) -> None:
            registry.add_command(hello, group="demo")

    commands = kernel_of(("cmds", CommandsPlugin()), ("other", Other())).commands()
    assert commands.names() == ["bench hello", "demo hello", "greet"]


def test_duplicate_command_names_both_plugins() -> None:
    class Clash:
        @hookimpl
        def supervm_register_commands(self, registry: CommandRegistry) -> None:
            registry.add_command(click.Command("hello"), group="bench")

    kernel = kernel_of(("cmds", CommandsPlugin()), ("clash", Clash()))
    with pytest.raises(
        DuplicateNameError, match="'bench hello' registered twice: by cmds and by clash"
    ):
        kernel.commands()


def test_command_without_a_name_is_rejected() -> None:
    class Nameless:
        @hookimpl
        def supervm_register_commands(self, registry: CommandRegistry) -> None:
            registry.add_command(click.Command(None))

    with pytest.raises(PluginError, match=r"^nameless: command has no name"):
        kernel_of(("nameless", Nameless())).commands()
