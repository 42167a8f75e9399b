"""Peer scores and bans, and a bounded memory of what was seen already.

A peer starts at 0. Each offence costs a fixed penalty; the score recovers toward 0 at a steady
rate, so an occasional timeout is forgotten while a stream of garbage is not. A peer whose score
reaches :data:`BAN_THRESHOLD` is banned for :attr:`PeerScores.ban_seconds`: disconnected, its
connections refused and its messages dropped. A block that fails its seal or its import is one
such offence on its own: an honest node relays neither, and serves no invalid chain. A gossiped
block whose seal checks out but whose execution fails was made by a misbehaving authority and
may have been relayed honestly: it costs less.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from enum import Enum
from typing import Final

import attrs

#: A score at or below this bans the peer.
BAN_THRESHOLD: Final = -100.0


class Offence(Enum):
    """What a peer did wrong; :attr:`penalty` is what it costs."""

    #: A message or answer that does not decode, or a transaction with a bad signature.
    GARBAGE = "garbage"
    #: A block whose header breaks the rules or whose seal does not check out.
    BAD_SEAL = "bad_seal"
    #: A block served by a sync that fails to import: the peer claims a chain it cannot have
    #: imported itself.
    INVALID_BLOCK = "invalid_block"
    #: A gossiped block whose seal checked out but whose execution disagrees with its header.
    #: Honest peers relay such a block (they check seals, not execution, before relaying), so
    #: it costs less than a ban; a peer that keeps doing it is banned.
    RELAYED_INVALID_BLOCK = "relayed_invalid_block"
    #: An answer that is well-formed but wrong (headers that do not link, another chain).
    BAD_ANSWER = "bad_answer"
    #: A request that got no answer in time.
    TIMEOUT = "timeout"

    @property
    def penalty(self) -> float:
        """The points it costs."""
        return PENALTIES[self]


#: What each offence costs.
PENALTIES: Final = {
    Offence.GARBAGE: 50.0,
    Offence.BAD_SEAL: 100.0,
    Offence.INVALID_BLOCK: 100.0,
    Offence.RELAYED_INVALID_BLOCK: 40.0,
    Offence.BAD_ANSWER: 50.0,
    Offence.TIMEOUT: 10.0,
}


@attrs.define
class _Score:
    value: float
    at: float
    offences: int = 0


@attrs.define
class PeerScores:
    """Scores and bans by peer id.

    :param ban_seconds: how long a ban lasts.
    :param recovery_per_second: points a score regains per second, up to 0.
    :param clock: seconds, monotonic (a parameter for tests).
    """

    ban_seconds: float = 600.0
    recovery_per_second: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _scores: dict[str, _Score] = attrs.field(factory=dict, init=False)
    _bans: dict[str, float] = attrs.field(factory=dict, init=False)

    def score(self, peer: str) -> float:
        """The peer's current score (0 for a peer never penalised)."""
        entry = self._scores.get(peer)
        if entry is None:
            return 0.0
        now = self.clock()
        entry.value = min(0.0, entry.value + (now - entry.at) * self.recovery_per_second)
        entry.at = now
        return entry.value

    def offences(self, peer: str) -> int:
        """How many offences the peer committed."""
        entry = self._scores.get(peer)
        return entry.offences if entry is not None else 0

    def penalise(self, peer: str, offence: Offence) -> bool:
        """Charge ``offence`` to ``peer``; return whether the peer is banned now."""
        value = self.score(peer) - offence.penalty
        entry = self._scores.setdefault(peer, _Score(0.0, self.clock()))
        entry.value = value
        entry.offences += 1
        if value <= BAN_THRESHOLD:
            self._bans[peer] = self.clock() + self.ban_seconds
        return self.is_banned(peer)

    def is_banned(self, peer: str) -> bool:
        """Whether ``peer`` is banned now."""
        until = self._bans.get(peer)
        if until is None:
            return False
        if self.clock() >= until:
            del self._bans[peer]
            self._scores.pop(peer, None)
            return False
        return True

    def banned(self) -> list[str]:
        """The peers banned now."""
        return [peer for peer in list(self._bans) if self.is_banned(peer)]


class SeenSet:
    """The most recent ``capacity`` keys seen (message or transaction hashes), oldest dropped.

    :param capacity: how many keys to remember.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("a SeenSet remembers at least one key")
        self.capacity = capacity
        self._keys: collections.OrderedDict[bytes, None] = collections.OrderedDict()

    def add(self, key: bytes) -> bool:
        """Remember ``key``; return whether it is new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def discard(self, key: bytes) -> None:
        """Forget ``key``."""
        self._keys.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
