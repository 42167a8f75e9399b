"""SuperVM plugin: proof-of-authority consensus, Clique (EIP-225) style, engine name ``poa``.

A fixed set of authorities from the genesis file seal blocks in turn by height; each header
carries its sealer's secp256k1 signature in ``extra_data``. The rules are in
:mod:`supervm_consensus_poa.engine` and ``docs/consensus.md``.

- :class:`PoaConsensus`: the engine, registered as ``poa``;
- :func:`load_validator_key` / :func:`write_validator_key`: validator key files;
- :func:`poa_genesis`: a genesis file naming the authorities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.node.keyfile import ValidatorKeyError, load_validator_key, write_validator_key
from supervm.plugins.hookspecs import hookimpl

from .engine import (
    DEFAULT_ALLOWED_FUTURE,
    DEFAULT_EPOCH,
    DIFF_IN_TURN,
    DIFF_NO_TURN,
    SEAL,
    VANITY,
    WIGGLE_SECONDS,
    PoaConsensus,
    PoaOptions,
    SealingSlot,
    address_of_key,
    seal_hash,
    signer_of,
)
from .genesis import poa_genesis

if TYPE_CHECKING:
    from supervm.plugins.registry import ConsensusRegistry

#: The engine's registered name (genesis ``supervm.consensus.engine``).
ENGINE_NAME = "poa"

__all__ = [
    "DEFAULT_ALLOWED_FUTURE",
    "DEFAULT_EPOCH",
    "DIFF_IN_TURN",
    "DIFF_NO_TURN",
    "ENGINE_NAME",
    "SEAL",
    "VANITY",
    "WIGGLE_SECONDS",
    "PoaConsensus",
    "PoaOptions",
    "SealingSlot",
    "ValidatorKeyError",
    "address_of_key",
    "load_validator_key",
    "poa_genesis",
    "seal_hash",
    "signer_of",
    "supervm_register_consensus",
    "write_validator_key",
]


@hookimpl
def supervm_register_consensus(registry: ConsensusRegistry) -> None:
    """Register the proof-of-authority engine as ``poa``."""
    registry.add_consensus(ENGINE_NAME, PoaConsensus)
