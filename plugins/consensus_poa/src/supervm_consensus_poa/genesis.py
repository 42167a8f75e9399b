"""A proof-of-authority genesis file: the dev genesis with ``poa`` consensus and its authorities.

The authorities are named in SuperVM's section, which is what the engine reads::

    "supervm": {"consensus": {"engine": "poa", "validators": ["0x...", "0x..."],
                              "period": 5, "epoch": 30000}}

The engine's options sit beside ``engine`` and ``validators`` (the genesis parser passes every
other key of ``supervm.consensus`` to the engine as a string option). The header's
``extraData`` is also written the way a Clique genesis has it (32 zero bytes of vanity, the
authorities, 65 zero bytes), so tools that read Clique signers from the genesis see the same
list; SuperVM does not read it back. ``supervm.plugins`` names ``consensus_poa``, so opening
the chain without the plugin fails with a message saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from supervm.chain.genesis import DEFAULT_BASE_FEE, DEFAULT_GAS_LIMIT, DEV_CHAIN_ID

from .engine import ADDRESS_SIZE, SEAL, VANITY


def poa_genesis(
    authorities: Sequence[bytes],
    *,
    accounts: Sequence[bytes] = (),
    balance: int = 10_000 * 10**18,
    chain_id: int = DEV_CHAIN_ID,
    period: int = 0,
    epoch: int | None = None,
    timestamp: int = 0,
    gas_limit: int = DEFAULT_GAS_LIMIT,
) -> dict[str, Any]:
    """A genesis file (as a JSON-ready dict) for a chain sealed by ``authorities``.

    :param authorities: the authorities' 20-byte addresses, in rotation order.
    :param accounts: addresses funded with ``balance`` wei each.
    :param period: minimum seconds between blocks (0: as fast as the producer seals).
    :param epoch: checkpoint interval (the engine's default, 30000, if ``None``).
    :param timestamp: the genesis block's time.
    :raises ValueError: if there is no authority or one is not 20 bytes.
    """
    if not authorities:
        raise ValueError("a poa genesis needs at least one authority")
    for address in authorities:
        if len(address) != ADDRESS_SIZE:
            raise ValueError(f"an authority is a 20-byte address, got {len(address)} bytes")
    consensus: dict[str, Any] = {
        "engine": "poa",
        "validators": ["0x" + a.hex() for a in authorities],
        "period": period,
    }
    if epoch is not None:
        consensus["epoch"] = epoch
    extra = bytes(VANITY) + b"".join(authorities) + bytes(SEAL)
    return {
        "config": {"chainId": chain_id},
        "gasLimit": hex(gas_limit),
        "baseFeePerGas": hex(DEFAULT_BASE_FEE),
        "timestamp": hex(timestamp),
        "difficulty": "0x1",
        "extraData": "0x" + extra.hex(),
        "alloc": {"0x" + a.hex(): {"balance": hex(balance)} for a in accounts},
        "supervm": {"consensus": consensus, "plugins": ["consensus_poa"]},
    }
