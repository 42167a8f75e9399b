"""Transaction admission: the records of ``supervm_admit_transaction`` and the call that asks it.

A transaction pool asks every plugin, through :func:`admit`, whether a signed transaction may
enter the pool; any plugin may refuse it with a :class:`Rejection`. Admission comes after the
kernel's own checks (encoding, signature, nonce, funds) and is policy: minimum tips, sender
allow-lists, rate limits, contract deny-lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from supervm.errors import PluginError

if TYPE_CHECKING:
    from supervm.chain.processor import BlockEnv
    from supervm.chain.transactions import Transaction
    from supervm.plugins.loading import PluginSet
    from supervm.state.world import WorldState


@attrs.frozen
class Rejection:
    """Why a transaction is refused; the pool returns ``reason`` to whoever sent it.

    :param reason: a short, lower-case sentence, as Ethereum nodes word theirs
        ("transaction underpriced", "sender not allowed").
    """

    reason: str

    def __attrs_post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a rejection needs a reason")


@attrs.frozen
class AdmissionContext:
    """What an admission check may look at.

    :param state: the state at the pool's head, which the transaction would run on; read it,
        never write it.
    :param env: the environment of the next block: chain id, number, time, gas limit,
        base fee.
    :param local: whether the transaction was submitted to this node (JSON-RPC) rather than
        received from a peer.
    """

    state: WorldState
    env: BlockEnv
    local: bool = False


def admit(
    plugins: PluginSet, transaction: Transaction, context: AdmissionContext
) -> Rejection | None:
    """Ask the plugins about ``transaction``: the first refusal, or ``None`` if none refuses.

    :raises PluginError: if a plugin returned something other than a :class:`Rejection` or
        ``None``.
    """
    result = plugins.manager.hook.supervm_admit_transaction(
        transaction=transaction, context=context
    )
    if result is not None and not isinstance(result, Rejection):
        raise PluginError(
            f"supervm_admit_transaction returned {result!r}: return a Rejection or None"
        )
    return result
