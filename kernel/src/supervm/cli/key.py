"""``supervm key``: validator key files (``key new``).

A key file holds one secp256k1 private key as hex (``supervm.node.keyfile``), the format
``supervm node --validator-key`` reads; ``key new`` creates one readable by its owner only and
prints the address, which goes into a genesis file's authorities.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from supervm.crypto import keccak256
from supervm.node.keyfile import write_validator_key


def checksum_address(address: bytes) -> str:
    """``address`` in EIP-55 mixed-case hex."""
    digits = address.hex()
    hashed = keccak256(digits.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(digits, hashed, strict=False)
    )


@click.group("key")
def key_group() -> None:
    """Validator keys: make a key file and print its address."""


@key_group.command("new")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key file to create (never overwritten; mode 0600).",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"address": ..., "file": ...}.')
def new_command(out: Path, as_json: bool) -> None:
    """Write a new random validator key to OUT and print its address."""
    address = checksum_address(write_validator_key(out))
    if as_json:
        click.echo(json.dumps({"address": address, "file": str(out)}))
    else:
        click.echo(address)
