"""The ``poa`` engine: Clique (EIP-225) without voting, for a fixed set of authorities.

The rules, each checked by :meth:`PoaConsensus.verify_seal` on a received header (the chain
core's importer adds the parent link, a later timestamp, the gas limit bounds, the base fee and
every root by re-execution):

- **Authorities** are the genesis validators, in the order listed (the rotation order).
- **Turns**: the in-turn authority of block ``n`` is ``validators[n % N]``. It seals with
  difficulty 2; any other authority may seal out of turn with difficulty 1, after a random
  delay (:meth:`PoaConsensus.sealing_slot`), so the in-turn block normally arrives first.
- **Recency**: an authority seals at most one of any ``N // 2 + 1`` consecutive blocks.
- **Seal**: ``extra_data`` is 32 bytes of vanity, the authority list on checkpoint blocks
  (every ``epoch`` blocks), and a 65-byte secp256k1 signature ``r || s || v`` (``v`` in
  {0, 1}, low ``s``) over :func:`seal_hash`, the keccak of the header's RLP with those 65
  bytes removed from ``extra_data``; every other field the block hash covers is signed.
- **Fields**: nonce and mix digest zero, no ommers, coinbase free (it receives the fees).
- **Time**: ``timestamp >= parent.timestamp + period``, and at most ``allowed_future``
  seconds ahead of the local clock.
- **Fork choice**: the head whose finalized block is further along wins; then the higher
  total difficulty; then the lower number; then the smaller hash (:meth:`fork_choice`).
- **Finality**: a block is final once ``N // 2 + 1`` distinct authorities have sealed it or
  blocks on top of it (:meth:`finalized`); the genesis block is always final.

``docs/consensus.md`` explains each rule and why.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Final

import attrs
import coincurve
from supervm.chain.blocks import EMPTY_OMMERS_HASH, BlockHeader, encode_header
from supervm.chain.consensus import (
    ConsensusEngine,
    ConsensusError,
    ConsensusSettings,
    HeaderReader,
    is_ancestor,
)
from supervm.chain.consensus import SealingSlot as KernelSealingSlot
from supervm.crypto import keccak256

#: Bytes of free "vanity" data at the start of ``extra_data`` (Clique's ``extraVanity``).
VANITY: Final = 32
#: Bytes of the seal at the end of ``extra_data``: ``r || s || v`` (Clique's ``extraSeal``).
SEAL: Final = 65
ADDRESS_SIZE: Final = 20
#: Difficulty of a block sealed by the in-turn authority (Clique's ``diffInTurn``).
DIFF_IN_TURN: Final = 2
#: Difficulty of a block sealed out of turn (Clique's ``diffNoTurn``).
DIFF_NO_TURN: Final = 1
#: Clique's default epoch: checkpoint blocks repeat the authority list this often.
DEFAULT_EPOCH: Final = 30_000
#: Seconds a block's timestamp may be ahead of the local clock. Clique allows none, but geth
#: queues such blocks and retries; the importer here refuses, so it tolerates clock skew.
DEFAULT_ALLOWED_FUTURE: Final = 15
#: Clique's ``wiggleTime``: an out-of-turn sealer waits a random part of this times
#: ``N // 2 + 1`` so that concurrent out-of-turn sealers rarely collide.
WIGGLE_SECONDS: Final = 0.5

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ZERO_NONCE: Final = bytes(8)
_ZERO_HASH: Final = bytes(32)
#: Recovered signers kept per engine (Clique keeps 4096 too): the recency rule and finality
#: read the last few blocks' signers again and again.
_SIGNER_CACHE_SIZE: Final = 4096
_OPTIONS: Final = ("period", "epoch", "allowed_future")


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


@attrs.frozen
class PoaOptions:
    """The engine's options, from the genesis ``supervm.consensus`` section.

    :param period: minimum seconds between a block and its parent (0: seal as fast as the
        producer asks; the chain core still needs a later timestamp than the parent's).
    :param epoch: checkpoint interval: blocks whose number is a multiple of it carry the
        authority list in ``extra_data``.
    :param allowed_future: how many seconds ahead of the local clock a block's timestamp may be.
    """

    period: int = 0
    epoch: int = DEFAULT_EPOCH
    allowed_future: int = DEFAULT_ALLOWED_FUTURE

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> PoaOptions:
        """Read string options, refusing unknown names and bad numbers by name."""
        if "options" in options:
            raise ConsensusError(
                "poa consensus: put the engine's options directly in supervm.consensus "
                '(for example "period": 5), not under "options"'
            )
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConsensusError(
                f"poa consensus: unknown option {unknown[0]!r} (known: {', '.join(_OPTIONS)})"
            )
        values: dict[str, int] = {}
        for name in _OPTIONS:
            if name not in options:
                continue
            text = str(options[name]).strip()
            try:
                number = int(text, 16) if text[:2] in ("0x", "0X") else int(text, 10)
            except ValueError:
                raise ConsensusError(
                    f"poa consensus: option {name!r} must be a whole number of "
                    f"{'blocks' if name == 'epoch' else 'seconds'}, got {options[name]!r}"
                ) from None
            least = 1 if name == "epoch" else 0
            if number < least:
                raise ConsensusError(
                    f"poa consensus: option {name!r} must be at least {least}, got {number}"
                )
            values[name] = number
        return cls(**values)


@attrs.frozen(kw_only=True)
class SealingSlot(KernelSealingSlot):
    """When and how an authority may seal the next block (:meth:`PoaConsensus.sealing_slot`).

    :param number: the block's number.
    :param signer: the authority's address.
    :param in_turn: whether it is the authority's turn.
    :param difficulty: 2 in turn, 1 out of turn.
    :param timestamp: the timestamp to give the block.
    :param delay: seconds to wait from now before sealing; an out-of-turn slot includes the
        random wiggle. A new head arriving meanwhile makes the slot stale.
    """

    number: int
    signer: bytes
    in_turn: bool
    difficulty: int


def seal_hash(header: BlockHeader) -> bytes:
    """What the sealer signs: keccak of the header's RLP with the last 65 bytes of
    ``extra_data`` (the seal) removed, every other field as the block hash covers it.

    :raises ConsensusError: if ``extra_data`` is too short to hold a seal.
    """
    if len(header.extra_data) < SEAL:
        raise ConsensusError(
            f"block {header.number}: extra data is {len(header.extra_data)} bytes, too short "
            f"for a {SEAL}-byte seal"
        )
    unsealed = attrs.evolve(header, extra_data=header.extra_data[:-SEAL])
    return keccak256(encode_header(unsealed))


def address_of_key(key: bytes) -> bytes:
    """The 20-byte address of a 32-byte secp256k1 private key.

    :raises ConsensusError: if ``key`` is not a valid private key.
    """
    return _address(_private_key(key).public_key)


def _private_key(key: bytes) -> coincurve.PrivateKey:
    # coincurve left-pads short keys (and makes up a random one for None): insist on 32 bytes.
    if not isinstance(key, bytes) or len(key) != 32:
        raise ConsensusError("a sealing key is a 32-byte secp256k1 private key")
    try:
        return coincurve.PrivateKey(key)
    except (ValueError, TypeError):
        raise ConsensusError("the sealing key is not a valid secp256k1 private key") from None


def _address(public_key: coincurve.PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def signer_of(header: BlockHeader) -> bytes:
    """The address that sealed ``header``, recovered from the seal in its ``extra_data``.

    :raises ConsensusError: naming the block, if there is no seal or it recovers no key.
    """
    number = header.number
    if len(header.extra_data) < VANITY + SEAL:
        raise ConsensusError(
            f"block {number}: extra data is {len(header.extra_data)} bytes, expected at least "
            f"{VANITY + SEAL} ({VANITY} of vanity and a {SEAL}-byte seal)"
        )
    signature = header.extra_data[-SEAL:]
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v > 1:
        raise ConsensusError(f"block {number}: invalid seal: recovery id {v}, expected 0 or 1")
    # A high s is the same signature mirrored: refusing it leaves every sealed header one
    # encoding, so nobody can make a second valid block hash from a sealer's block.
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise ConsensusError(f"block {number}: invalid seal: r or s out of range (or high s)")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature, seal_hash(header), hasher=None
        )
    except ValueError:
        raise ConsensusError(f"block {number}: invalid seal: it recovers no public key") from None
    return _address(public)


class PoaConsensus(ConsensusEngine):
    """Proof of authority as Clique does it, for the fixed authorities of the genesis file.

    See the module docstring for the rules.

    :param settings: ``validators`` are the authorities in rotation order; ``options`` are
        :class:`PoaOptions` as strings.
    :param clock: seconds since the epoch, for the future-block rule and sealing slots.
    :param rng: randomness for the out-of-turn wiggle.
    """

    def __init__(
        self,
        settings: ConsensusSettings,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        validators = tuple(settings.validators)
        if not validators:
            raise ConsensusError(
                "poa consensus needs at least one authority: list them in the genesis file's "
                'supervm.consensus.validators (["0x..."])'
            )
        for address in validators:
            if len(address) != ADDRESS_SIZE:
                raise ConsensusError(
                    f"poa consensus: an authority is a 20-byte address, got {len(address)} "
                    f"bytes ({_hex(address)})"
                )
        seen: set[bytes] = set()
        for address in validators:
            if address in seen:
                raise ConsensusError(f"poa consensus: authority {_hex(address)} is listed twice")
            seen.add(address)
        self.settings = settings
        #: The authorities, in rotation order.
        self.validators: tuple[bytes, ...] = validators
        self._authorities = frozenset(validators)
        self.options = PoaOptions.parse(settings.options)
        #: ``N // 2 + 1``: the recency window, and how many distinct sealers make a block final.
        self.majority = len(validators) // 2 + 1
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._signers: dict[bytes, bytes] = {}

    # -- turns --------------------------------------------------------------------------------

    def is_authority(self, address: bytes) -> bool:
        """Whether ``address`` may seal blocks."""
        return address in self._authorities

    def in_turn(self, number: int) -> bytes:
        """The authority whose turn block ``number`` is: ``validators[number % N]``."""
        return self.validators[number % len(self.validators)]

    def difficulty(self, number: int, signer: bytes) -> int:
        """The difficulty of block ``number`` sealed by ``signer``: 2 in turn, 1 out of turn."""
        return DIFF_IN_TURN if self.in_turn(number) == signer else DIFF_NO_TURN

    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        """The in-turn authority of block ``number``; others may seal out of turn."""
        return self.in_turn(number)

    def signer(self, header: BlockHeader) -> bytes:
        """:func:`signer_of`, remembered by block hash."""
        cached = self._signers.get(header.hash)
        if cached is None:
            cached = signer_of(header)
            self._remember(header, cached)
        return cached

    def _remember(self, header: BlockHeader, signer: bytes) -> None:
        if len(self._signers) >= _SIGNER_CACHE_SIZE:
            self._signers.clear()  # cheaper than LRU bookkeeping, and refilled in a few blocks
        self._signers[header.hash] = signer

    def recent_signer(
        self, signer: bytes, number: int, parent: BlockHeader, *, chain: HeaderReader
    ) -> int | None:
        """The number of a block among the ``N // 2`` before block ``number`` (whose parent is
        ``parent``) that ``signer`` sealed, or ``None``: sealing block ``number`` then breaks
        the recency rule.

        :raises ConsensusError: if an ancestor the rule needs is not in ``chain``.
        """
        current = parent
        for step in range(self.majority - 1):
            if step:
                current = self._parent(current, chain)
            if current.number == 0:  # the genesis block has no sealer
                return None
            if self.signer(current) == signer:
                return current.number
        return None

    def _check_recency(
        self, signer: bytes, number: int, parent: BlockHeader, chain: HeaderReader
    ) -> None:
        recent = self.recent_signer(signer, number, parent, chain=chain)
        if recent is not None:
            raise ConsensusError(
                f"block {number}: signer {_hex(signer)} sealed recently (block {recent}); an "
                f"authority seals at most one of any {self.majority} consecutive blocks"
            )

    def sealing_slot(
        self,
        signer: bytes,
        parent: BlockHeader,
        *,
        chain: HeaderReader,
        now: float | None = None,
    ) -> SealingSlot:
        """When ``signer`` may seal the child of ``parent``, as Clique schedules it.

        The timestamp is ``parent.timestamp + period`` (at least one second later, as the chain
        core requires), or the current second if that is later. In turn, the slot opens at
        that timestamp; with ``period`` 0 it opens at once while the timestamp stays within
        ``allowed_future`` of the clock. Out of turn, a random wiggle of up to
        ``(N // 2 + 1) * 0.5`` seconds is added, so the in-turn block usually wins the race.

        :raises ConsensusError: if ``signer`` is not an authority or sealed too recently
            ("signed recently, must wait for others").
        """
        number = parent.number + 1
        if not self.is_authority(signer):
            raise ConsensusError(f"{_hex(signer)} is not an authority of this chain")
        recent = self.recent_signer(signer, number, parent, chain=chain)
        if recent is not None:
            raise ConsensusError(
                f"block {number}: {_hex(signer)} signed recently (block {recent}), must wait "
                "for others"
            )
        now = self._clock() if now is None else now
        period = self.options.period
        timestamp = max(parent.timestamp + max(period, 1), int(now))
        opens = timestamp if period > 0 else timestamp - self.options.allowed_future
        delay = max(0.0, opens - now)
        in_turn = self.in_turn(number) == signer
        if not in_turn:
            delay += self._rng.uniform(0.0, self.majority * WIGGLE_SECONDS)
        return SealingSlot(
            number=number,
            signer=signer,
            in_turn=in_turn,
            difficulty=DIFF_IN_TURN if in_turn else DIFF_NO_TURN,
            timestamp=timestamp,
            delay=delay,
        )

    # -- building -----------------------------------------------------------------------------

    def _checkpoint_list(self, number: int) -> bytes:
        if number % self.options.epoch == 0:
            return b"".join(self.validators)
        return b""

    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        """Make ``header`` a poa draft: the given ``extra_data`` (at most 32 bytes) padded into
        the vanity, the authority list on a checkpoint, room for the seal; nonce and mix digest
        zero; the timestamp at least ``parent.timestamp + period``; difficulty 2.

        The difficulty depends on who seals, which only :meth:`seal` learns (from the key):
        :meth:`seal` sets 1 if the sealer is out of turn. Execution does not read it.
        """
        if len(header.extra_data) > VANITY:
            raise ConsensusError(
                f"block {header.number}: extra data is {len(header.extra_data)} bytes; a poa "
                f"block's vanity is at most {VANITY} (the engine adds the seal)"
            )
        extra = (
            header.extra_data.ljust(VANITY, b"\0")
            + self._checkpoint_list(header.number)
            + bytes(SEAL)
        )
        return attrs.evolve(
            header,
            extra_data=extra,
            difficulty=DIFF_IN_TURN,
            nonce=_ZERO_NONCE,
            mix_hash=_ZERO_HASH,
            timestamp=max(header.timestamp, parent.timestamp + self.options.period),
        )

    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        """Sign ``header`` (prepared, roots filled in) with the authority's private ``key``.

        Sets the difficulty for the key's turn, then puts the signature over :func:`seal_hash`
        in the last 65 bytes of ``extra_data``. Whether the authority sealed too recently needs
        the chain: check :meth:`sealing_slot` before building.

        :raises ConsensusError: if the key is invalid or not an authority's.
        """
        private = _private_key(key)
        signer = _address(private.public_key)
        if not self.is_authority(signer):
            raise ConsensusError(
                f"block {header.number}: the sealing key's address {_hex(signer)} is not an "
                "authority of this chain"
            )
        if len(header.extra_data) < VANITY + SEAL:
            raise ConsensusError(
                f"block {header.number}: extra data is {len(header.extra_data)} bytes, expected "
                f"at least {VANITY + SEAL}: prepare the header before sealing it"
            )
        header = attrs.evolve(header, difficulty=self.difficulty(header.number, signer))
        # libsecp256k1 signs deterministically (RFC 6979) with a low s, as verify requires.
        signature = private.sign_recoverable(seal_hash(header), hasher=None)
        sealed = attrs.evolve(header, extra_data=header.extra_data[:-SEAL] + signature)
        self._remember(sealed, signer)
        return sealed

    # -- verifying ----------------------------------------------------------------------------

    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        """Check every poa rule of ``header``, a child of ``parent``; see the module docstring.

        :raises ConsensusError: naming the block and the first rule it breaks.
        """
        number = header.number
        if number == 0:
            raise ConsensusError("block 0 is the genesis block: it has no seal to verify")
        if header.parent_hash != parent.hash or number != parent.number + 1:
            raise ConsensusError(
                f"block {number} (parent {_hex(header.parent_hash)}) is not a child of "
                f"block {parent.number} ({_hex(parent.hash)})"
            )
        now = self._clock()
        if header.timestamp > now + self.options.allowed_future:
            raise ConsensusError(
                f"block {number}: timestamp {header.timestamp} is "
                f"{header.timestamp - int(now)} s in the future (at most "
                f"{self.options.allowed_future} s allowed)"
            )
        earliest = parent.timestamp + self.options.period
        if header.timestamp < earliest:
            raise ConsensusError(
                f"block {number}: timestamp {header.timestamp} is before its parent's "
                f"{parent.timestamp} plus the period of {self.options.period} s"
            )
        self._check_extra_data(header)
        if header.nonce != _ZERO_NONCE:
            raise ConsensusError(
                f"block {number}: nonce {_hex(header.nonce)}, expected zero (no voting)"
            )
        if header.mix_hash != _ZERO_HASH:
            raise ConsensusError(
                f"block {number}: mix digest {_hex(header.mix_hash)}, expected zero"
            )
        if header.ommers_hash != EMPTY_OMMERS_HASH:
            raise ConsensusError(f"block {number}: a poa block has no ommers")
        if header.difficulty not in (DIFF_IN_TURN, DIFF_NO_TURN):
            raise ConsensusError(
                f"block {number}: wrong difficulty {header.difficulty}, expected "
                f"{DIFF_IN_TURN} in turn or {DIFF_NO_TURN} out of turn"
            )
        signer = self.signer(header)
        if not self.is_authority(signer):
            raise ConsensusError(
                f"block {number} sealed by {_hex(signer)} which is not an authority"
            )
        self._check_recency(signer, number, parent, chain)
        expected = self.difficulty(number, signer)
        if header.difficulty != expected:
            turn = "in turn" if expected == DIFF_IN_TURN else "out of turn"
            raise ConsensusError(
                f"block {number}: wrong difficulty {header.difficulty}, expected {expected}: "
                f"its signer {_hex(signer)} is {turn} (the in-turn authority is "
                f"{_hex(self.in_turn(number))})"
            )

    def _check_extra_data(self, header: BlockHeader) -> None:
        number = header.number
        extra = header.extra_data
        if len(extra) < VANITY + SEAL:
            raise ConsensusError(
                f"block {number}: extra data is {len(extra)} bytes, expected at least "
                f"{VANITY + SEAL} ({VANITY} of vanity and a {SEAL}-byte seal)"
            )
        listed = extra[VANITY:-SEAL]
        expected = self._checkpoint_list(number)
        if listed != expected:
            if not expected:
                raise ConsensusError(
                    f"block {number}: extra data has {len(listed)} bytes between the vanity and "
                    "the seal; only checkpoint blocks carry the authority list"
                )
            raise ConsensusError(
                f"block {number}: a checkpoint block (every {self.options.epoch}) must list "
                f"the {len(self.validators)} authorities between the vanity and the seal"
            )

    # -- fork choice and finality -------------------------------------------------------------

    def finalized(self, head: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        """The highest final block of ``head``'s chain: the highest block ``B`` such that
        ``N // 2 + 1`` distinct authorities sealed ``B`` or blocks between it and ``head``
        (the genesis block if there is none).

        Costs about ``N // 2 + 1`` header reads when the recency rule holds (any that many
        consecutive blocks have distinct sealers).

        :raises ConsensusError: if an ancestor is missing from ``chain``.
        """
        seen: set[bytes] = set()
        current = head
        while current.number > 0:
            seen.add(self.signer(current))
            if len(seen) >= self.majority:
                return current
            current = self._parent(current, chain)
        return current

    def is_final(self, header: BlockHeader, head: BlockHeader, *, chain: HeaderReader) -> bool:
        """Whether ``header`` is :meth:`finalized` on ``head``'s chain or one of its ancestors."""
        final = self.finalized(head, chain=chain)
        return header.number <= final.number and is_ancestor(header, final, chain)

    def fork_choice(self, a: BlockHeader, b: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        """The head that wins between the current head ``a`` and another valid head ``b``.

        1. Finality first: if one head's finalized block descends from the other's, the head
           with the further one wins, so switching heads never reverts, or un-finalizes, a
           final block. If the finalized blocks conflict (only possible when an authority
           sealed on both branches, breaking the protocol), ``a`` stays.
        2. The higher total difficulty (Clique's rule: in-turn blocks weigh 2, others 1),
           compared from the common ancestor up.
        3. The lower number (geth's tie rule: the shorter chain carries fewer out-of-turn
           blocks); then the smaller hash as big-endian bytes, so every node agrees.

        :raises ConsensusError: if an ancestor of either head is missing from ``chain``.
        """
        if a.hash == b.hash:
            return a
        final_a = self.finalized(a, chain=chain)
        final_b = self.finalized(b, chain=chain)
        if final_a.hash != final_b.hash:
            if final_a.number > final_b.number and is_ancestor(final_b, final_a, chain):
                return a
            if final_b.number > final_a.number and is_ancestor(final_a, final_b, chain):
                return b
            return a  # conflicting finality: never revert what this node saw final
        weight_a, weight_b = self._branch_weights(a, b, chain)
        if weight_a != weight_b:
            return a if weight_a > weight_b else b
        if a.number != b.number:
            return a if a.number < b.number else b
        return b if b.hash < a.hash else a

    def _branch_weights(
        self, a: BlockHeader, b: BlockHeader, chain: HeaderReader
    ) -> tuple[int, int]:
        """The summed difficulties of ``a``'s and ``b``'s blocks above their common ancestor
        (their total difficulties minus the ancestor's)."""
        weight_a = weight_b = 0
        while a.number > b.number:
            weight_a += a.difficulty
            a = self._parent(a, chain)
        while b.number > a.number:
            weight_b += b.difficulty
            b = self._parent(b, chain)
        while a.hash != b.hash:
            if a.number == 0:
                raise ConsensusError(
                    f"fork choice: blocks {_hex(a.hash)} and {_hex(b.hash)} have no common "
                    "ancestor (different genesis blocks)"
                )
            weight_a += a.difficulty
            weight_b += b.difficulty
            a, b = self._parent(a, chain), self._parent(b, chain)
        return weight_a, weight_b

    @staticmethod
    def _parent(header: BlockHeader, chain: HeaderReader) -> BlockHeader:
        parent = chain.header(header.parent_hash)
        if parent is None:
            raise ConsensusError(
                f"block {header.number}: its parent {_hex(header.parent_hash)} is unknown"
            )
        return parent
