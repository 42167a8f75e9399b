"""The ``supervm evm blocktest`` command."""

from __future__ import annotations

import json
from pathlib import Path

import click
from supervm.cli.state import kernel_state

from . import ENGINES
from .blocktest import BlocktestError, run


@click.command("blocktest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=click.Choice(ENGINES),
    default=ENGINES[0],
    show_default=True,
    help="The EVM engine.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.pass_context
def blocktest_command(
    ctx: click.Context, paths: tuple[Path, ...], backend: str, as_json: bool
) -> None:
    """Run Ethereum BlockchainTests files (directories are walked) through the chain core.

    Only the tests of the Cancun network count. Exits with status 1 if any test failed.
    """
    kernel = kernel_state(ctx).kernel
    try:
        report = run(kernel, paths, engine=backend)
    except BlocktestError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:
        raise click.ClickException(f"the {backend} engine is not available: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        for failure in report.failures:
            line = f"FAIL {failure.name}: {failure.field}"
            if failure.expected or failure.got:
                line += f": expected {failure.expected}, got {failure.got}"
            click.echo(line)
            if failure.detail:
                click.echo(f"     {failure.detail}")
        click.echo(f"{report.passed} passed, {report.failed} failed")
    if report.failed:
        ctx.exit(1)
