"""The consensus interface: whose turn it is, how a header is sealed and checked, which head wins,
and when a block is final.

A consensus engine is a plugin's :class:`ConsensusEngine`, registered by name with
``supervm_register_consensus`` and built from :class:`ConsensusSettings`. The chain calls it at
fixed points:

- building a block: :meth:`~ConsensusEngine.proposer` (is it this node's turn?), then
  :meth:`~ConsensusEngine.prepare` on the draft header before the transactions execute, then
  :meth:`~ConsensusEngine.seal` on the finished header;
- importing a block: :meth:`~ConsensusEngine.verify_seal` against its parent, before executing;
- choosing the head: :meth:`~ConsensusEngine.fork_choice` between the current head and a new
  block; answering "finalized": :meth:`~ConsensusEngine.is_final`.

Methods that may need history (a Clique engine's recent signers, its total difficulty, whether
a block is an ancestor of the head) receive ``chain``, anything that reads headers by hash, such
as :class:`~supervm.chain.store.ChainStore`.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import attrs

from supervm.errors import SuperVMError
from supervm.model import Call

if TYPE_CHECKING:
    from supervm.chain.blocks import BlockHeader


class ConsensusError(SuperVMError):
    """A header breaks the consensus engine's rules; the message names the rule and the block."""


class HeaderReader(Protocol):
    """Read access to the headers a chain has stored (:class:`~supervm.chain.store.ChainStore`)."""

    def header(self, block_hash: bytes) -> BlockHeader | None:
        """The header of block ``block_hash``, or ``None`` if the chain does not have it."""


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
    """A block of calls for :meth:`Kernel.execute_block`, the VM-level block without a header.

    :param number: block height.
    :param timestamp: block time in seconds.
    :param proposer: 20-byte address of the proposer.
    :param calls: the calls to execute, in order.
    """

    number: int
    timestamp: int
    proposer: bytes
    calls: tuple[Call, ...]


@attrs.frozen(kw_only=True)
class SealingSlot:
    """When a sealer may seal the next block (:meth:`ConsensusEngine.sealing_slot`).

    :param timestamp: the timestamp to give the block.
    :param delay: seconds to wait from now before sealing; a new head arriving meanwhile makes
        the slot stale.
    """

    timestamp: int
    delay: float = 0.0


class ConsensusEngine(abc.ABC):
    """The rules of one consensus protocol, complete enough for proof of authority (Clique).

    Headers are immutable: the methods that fill fields return a new header
    (``attrs.evolve(header, difficulty=...)``). A method that refuses a header raises
    :class:`ConsensusError` naming the block and the rule it breaks.
    """

    @abc.abstractmethod
    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        """The 20-byte address whose turn it is to propose block ``number`` on ``parent``.

        For Clique, the in-turn signer; others may still seal out of turn if the engine allows.
        """

    @abc.abstractmethod
    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        """Fill the engine's fields of a draft header before its transactions execute.

        Sets what the engine owns (difficulty, the vanity part of ``extra_data`` and room for
        a seal, ``mix_hash``) and returns the new header.
        """

    @abc.abstractmethod
    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        """Sign the finished header (roots and gas filled in) with the 32-byte private ``key``.

        Returns the header with its seal, wherever the engine keeps it (Clique: the last 65
        bytes of ``extra_data``).
        """

    @abc.abstractmethod
    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        """Check the engine's fields and seal of ``header``, a child of ``parent``.

        :raises ConsensusError: naming the problem (unauthorized signer, wrong difficulty,
            signed too recently, bad extra data).
        """

    @abc.abstractmethod
    def fork_choice(self, a: BlockHeader, b: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        """The head that wins between ``a`` and ``b``, two valid heads; ``a`` if they are equal.

        The rule must be a total order, so every node picks the same head from the same blocks.
        """

    @abc.abstractmethod
    def is_final(self, header: BlockHeader, head: BlockHeader, *, chain: HeaderReader) -> bool:
        """Whether ``header`` can no longer be reverted, given the current ``head``."""

    def sealing_slot(
        self,
        signer: bytes,
        parent: BlockHeader,
        *,
        chain: HeaderReader,
        now: float | None = None,
    ) -> SealingSlot:
        """When ``signer`` may seal the child of ``parent``: by default at once, timestamped
        with the current second (at least one after the parent's).

        An engine with turns (proof of authority) delays an out-of-turn sealer and refuses one
        that may not seal yet.

        :raises ConsensusError: if ``signer`` may not seal the next block.
        """
        now = time.time() if now is None else now
        return SealingSlot(timestamp=max(parent.timestamp + 1, int(now)))


ConsensusFactory = Callable[[ConsensusSettings], ConsensusEngine]


def is_ancestor(header: BlockHeader, head: BlockHeader, chain: HeaderReader) -> bool:
    """Whether ``header`` is ``head`` or one of its ancestors, walking back through ``chain``.

    Costs one header read per block between them; ``False`` if the walk reaches a header the
    chain does not have.
    """
    current: BlockHeader | None = head
    while current is not None and current.number > header.number:
        current = chain.header(current.parent_hash)
    return current is not None and current.hash == header.hash
