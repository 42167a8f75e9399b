"""The ``supervm bench erc20`` command."""

from __future__ import annotations

import json

import click

from .bench import run


@click.command("erc20")
@click.option("--transfers", "n", default=20_000, show_default=True, help="Transfers per round.")
@click.option("--accounts", default=1_000, show_default=True, help="Distinct accounts (>= 2).")
@click.option(
    "--pyevm-transfers", default=1_000, show_default=True, help="Transfers per round on py-evm."
)
@click.option("--rounds", default=3, show_default=True, help="Rounds (best is kept).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def erc20_command(n: int, accounts: int, pyevm_transfers: int, rounds: int, as_json: bool) -> None:
    """ERC20 transfers/s: AssemblyScript on SuperVM vs Solidity on pyrevm and py-evm."""
    if min(n, pyevm_transfers, rounds) < 1 or accounts < 2:
        raise click.BadParameter("counts must be positive and --accounts at least 2")
    progress = (lambda _m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True))
    report = run(n, accounts, pyevm_transfers, rounds, progress)
    data = report.as_json()
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"ERC20 transfers among {accounts} accounts, same calldata on every engine")
    click.echo(f"  SuperVM WASM (AssemblyScript)  {data['wasm_tps']:>12,.0f} transfers/s")
    click.echo(f"  pyrevm (Solidity)              {data['pyrevm_tps']:>12,.0f} transfers/s")
    click.echo(f"  py-evm (Solidity)              {data['pyevm_tps']:>12,.0f} transfers/s")
    if "evm_tps" in data:
        click.echo(f"  SuperVM evm backend (Solidity) {data['evm_tps']:>12,.0f} transfers/s")
        click.echo(f"  evm backend / pyrevm           {data['evm_vs_pyrevm']:>12.2f}x")
    if "wasm_native_tps" in data:  # the wasm_native plugin's C host functions
        native, block = data["wasm_native_tps"], data["wasm_native_block_tps"]
        click.echo(f"  SuperVM WASM, native calls     {native:>12,.0f} transfers/s")
        click.echo(f"  SuperVM WASM, native block     {block:>12,.0f} transfers/s")
        click.echo(f"  native calls / pyrevm          {data['wasm_native_vs_pyrevm']:>12.2f}x")
        click.echo(
            f"  native block / pyrevm          {data['wasm_native_block_vs_pyrevm']:>12.2f}x"
            "   (target >= 1.5)"
        )
    click.echo(f"  WASM / pyrevm                  {data['wasm_vs_pyrevm']:>12.2f}x")
    click.echo(f"  WASM / py-evm                  {data['wasm_vs_pyevm']:>12.1f}x")
    click.echo(f"  final balances equal (WASM vs pyrevm): {report.equal}")
