"""The ``supervm bench chain`` command."""

from __future__ import annotations

import json

import click

from .chain_bench import run

_STEPS = (
    ("decode", "decoding"),
    ("recover", "sender recovery"),
    ("execution", "execution"),
    ("receipts", "receipts and blooms"),
    ("state_root", "state root"),
    ("roots", "transactions and receipts roots"),
    ("commit", "commit (one batch)"),
)


@click.command("chain")
@click.option("--transfers", "n", default=10_000, show_default=True, help="Transfers in the block.")
@click.option(
    "--storage",
    type=click.Choice(["lmdb", "memory"]),
    default="lmdb",
    show_default=True,
    help="Storage backend of both chains.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def chain_command(n: int, storage: str, as_json: bool) -> None:
    """Block building and import against the bare contract calls, in one run."""
    if n < 2:
        raise click.BadParameter("--transfers must be at least 2", param_hint="--transfers")
    progress = (lambda _m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True))
    report = run(n, storage, progress)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    click.echo(f"A block of {n:,} signed WASM ERC20 transfers among {n:,} accounts ({storage})")
    click.echo(f"  build   {report.build_tps:>10,.0f} tx/s")
    click.echo(f"  import  {report.import_tps:>10,.0f} tx/s (from RLP, senders recovered)")
    click.echo(f"  bare    {report.bare_tps:>10,.0f} tx/s (the same calls, no chain)")
    click.echo(f"  build / bare  {report.ratio:.2f}   (target >= 0.5)")
    for title, steps in (("build", report.build), ("import", report.import_)):
        click.echo(f"  {title} steps, ms:")
        for key, label in _STEPS:
            if key in steps:
                click.echo(f"    {label:<34} {steps[key] * 1000:>8.1f}")
        click.echo(f"    {'total':<34} {steps['total'] * 1000:>8.1f}")
    click.echo(f"  imported chain equal to the built one (head hash, state root): {report.equal}")
