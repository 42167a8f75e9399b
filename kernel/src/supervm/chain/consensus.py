"""The consensus interface: who proposes a block and whether a proposed block is acceptable."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping

import attrs

from supervm.model import Call


@attrs.frozen
class ConsensusSettings:
    """Consensus settings.

    :param validators: validator addresses (20 bytes each), in rotation order.
    :param options: engine-specific options.
    """

    validators: tuple[bytes, ...] = ()
    options: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class BlockProposal:
    """A block proposed for execution.

    :param number: block height.
    :param timestamp: block time in seconds.
    :param proposer: 20-byte address of the proposer.
    :param calls: the calls to execute, in order.
    """

    number: int
    timestamp: int
    proposer: bytes
    calls: tuple[Call, ...]


class ConsensusEngine(abc.ABC):
    """Decides who proposes a block and whether a proposed block is acceptable."""

    @abc.abstractmethod
    def proposer(self, number: int) -> bytes:
        """The address expected to propose block ``number``."""

    @abc.abstractmethod
    def validate(self, proposal: BlockProposal) -> None:
        """Raise :class:`~supervm.errors.SuperVMError` if ``proposal`` must be rejected."""


ConsensusFactory = Callable[[ConsensusSettings], ConsensusEngine]
