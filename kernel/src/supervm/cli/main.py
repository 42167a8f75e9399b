"""The ``supervm`` command.

The kernel contributes ``plugins``, ``accounts``, ``compile``, ``new``, the ``chain`` and ``tx``
groups and the ``bench`` group; plugins contribute the rest
(``wasm run``, ``demo``, ``bench wasm-call`` ...) through ``supervm_register_commands``. User
errors print one line and exit 1; they never show a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from supervm.chain.dev_accounts import DEV_MNEMONIC, dev_accounts
from supervm.cli.chain import chain_group, tx_group
from supervm.cli.compile import compile_command, new_command
from supervm.cli.key import key_group
from supervm.cli.logs import configure_logging
from supervm.cli.node import node_command
from supervm.cli.state import KernelState, kernel_state
from supervm.errors import SuperVMError
from supervm.tooling.convert import plugin_to_json

log = logging.getLogger("supervm.cli")


class PluginGroup(click.Group):
    """A group whose subcommands also come from plugins (``supervm_register_commands``)."""

    def __init__(self, *args: Any, plugin_group: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plugin_group = plugin_group

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        registry = kernel_state(ctx).kernel.commands()
        found: dict[str, click.Command] = {}
        for entry in registry.entries():
            group, _, name = entry.name.rpartition(" ")
            if group == self.plugin_group:
                found[name] = entry.value
            elif not self.plugin_group and group and group not in found:
                # A group no built-in command defines: make one that holds its commands.
                found[group] = PluginGroup(group, plugin_group=group, help=f"{group} commands")
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            plugin_names = list(self._plugin_commands(ctx))
        except SuperVMError:
            plugin_names = []
        return sorted({*super().list_commands(ctx), *plugin_names})

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            disabled = [i.name for i in kernel_state(ctx).kernel.plugins.infos() if not i.enabled]
            if not disabled or not args:
                raise
            raise click.UsageError(
                f"No such command {args[0]!r}. It may come from a plugin that is not enabled: "
                f"{', '.join(disabled)} (see `supervm plugins`).",
                ctx,
            ) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return self._plugin_commands(ctx).get(cmd_name)


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="NAME",
    help="Enable plugin NAME and prefer its implementations; no:NAME blocks it. Repeatable.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes for parallel schedulers (default: the scheduler's own).",
)
@click.option(
    "--vm-option",
    "vm_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An execution backend option for every VM the command builds (evm=pyevm picks "
    "py-evm as the EVM engine). Repeatable.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--log-json", is_flag=True, help="Write logs as JSON lines to stderr.")
@click.option("--trace-hooks", is_flag=True, help="Log every plugin hook call.")
@click.version_option(package_name="supervm")
@click.pass_context
def cli(
    ctx: click.Context,
    plugins: tuple[str, ...],
    workers: int | None,
    vm_options: tuple[str, ...],
    verbose: int,
    log_json: bool,
    trace_hooks: bool,
) -> None:
    """SuperVM: a WASM-first smart-contract VM with pluggable storage, VMs and schedulers."""
    if isinstance(ctx.obj, KernelState):  # an embedder or a test brought its own kernel
        configure_logging(verbose + (1 if trace_hooks else 0), as_json=log_json)
        return
    # Made from these same options when a plugin command was looked up before this callback.
    kernel_state(ctx)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: distribution, version, hooks and whether enabled."""
    kernel = kernel_state(ctx).kernel
    infos = kernel.plugins.infos()
    if as_json:
        click.echo(json.dumps([plugin_to_json(i) for i in infos]))
        return
    width = max((len(info.name) for info in infos), default=0)
    for info in infos:
        status = "enabled" if info.enabled else ("failed" if info.error else "disabled")
        click.echo(f"{info.name:<{width}}  {info.distribution} {info.version} [{status}]")
        if info.error:
            click.echo(f"    error: {info.error}")
        for hook in info.hooks:
            click.echo(f"    {hook}")


@cli.command("accounts")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def accounts_command(as_json: bool) -> None:
    """The dev accounts (`--caller 0` ... `--caller 9`): Hardhat's and anvil's, with keys.

    They come from the public mnemonic "test test ... junk": never send real value to them.
    """
    accounts = dev_accounts()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "index": a.index,
                        "address": a.checksum_address,
                        "private_key": "0x" + a.private_key.hex(),
                    }
                    for a in accounts
                ]
            )
        )
        return
    click.echo(f"Dev accounts from the mnemonic {DEV_MNEMONIC!r}")
    click.echo("(these keys are public: never send real funds to them)")
    for a in accounts:
        click.echo(f"({a.index}) {a.checksum_address}  0x{a.private_key.hex()}")


cli.add_command(compile_command)
cli.add_command(new_command)
cli.add_command(chain_group)
cli.add_command(tx_group)
cli.add_command(node_command)
cli.add_command(key_group)


@cli.group("bench", cls=PluginGroup, plugin_group="bench")
def bench_group() -> None:
    """Benchmarks that measure SuperVM against baselines side by side in one run."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning SuperVM errors into one-line messages."""
    try:
        code = cli.main(args=argv, prog_name="supervm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SuperVMError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    # Without standalone mode click returns ctx.exit() codes instead of exiting.
    if isinstance(code, int) and code != 0:
        sys.exit(code)
