"""A contract client for embedders and tests: an artifact bound to a kernel and a state.

:class:`Contract` deploys an artifact through :meth:`~supervm.kernel.Kernel.deploy` and calls
it through its ABI; :func:`decode_outcome` decodes a result's return data, logs and revert
reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from supervm.errors import CallError
from supervm.execution.deployment import Deployment
from supervm.model import ZERO_ADDRESS, ExecutionContext, ExecutionResult
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage
from supervm.state.world import WorldState
from supervm.tooling import abi
from supervm.tooling.compilers import Artifact

if TYPE_CHECKING:
    from supervm.kernel import Kernel


@attrs.frozen
class CallOutcome:
    """A contract call with its ABI decoding.

    :param result: the raw execution result.
    :param values: the decoded return values (empty if the call failed).
    :param events: logs decoded with the contract's ABI, as ``(event name, args)``.
    :param revert_reason: the decoded revert reason, if the call reverted with one.
    """

    result: ExecutionResult
    values: tuple[object, ...]
    events: tuple[tuple[str, Mapping[str, object]], ...]
    revert_reason: str | None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.result.ok

    @property
    def value(self) -> object:
        """The single return value (``None`` if there is none)."""
        return self.values[0] if len(self.values) == 1 else (self.values or None)


class Contract:
    """An artifact bound to a kernel and a state: deploy it, then call it through its ABI.

    ::

        token = Contract(kernel, load_artifact(Path("build/Token.json")), storage)
        token.deploy(ExecutionContext(caller=alice), "Token", "TOK", 10**24)
        token.transact("transfer", bob, 100, caller=alice)
        token.call("balanceOf", bob).value   # 100
    """

    def __init__(
        self,
        kernel: Kernel,
        artifact: Artifact,
        state: Storage | StateOverlay,
        address: bytes | None = None,
    ) -> None:
        self.kernel = kernel
        self.artifact = artifact
        self.state = state
        self.address = address

    def deploy(self, context: ExecutionContext, *args: object) -> Deployment:
        """Deploy with constructor ``args``; on success :attr:`address` is set."""
        ctor = abi.constructor(self.artifact.abi)
        params = ctor.get("inputs", ()) if ctor else ()
        data = abi.encode_arguments(params, args, item=ctor)
        deployment = self.kernel.deploy(self.artifact.bytecode, self.state, context, input=data)
        if deployment.ok:
            self.address = deployment.address
        return deployment

    def _call(
        self, fn_name: str, args: tuple[object, ...], context: ExecutionContext, commit: bool
    ) -> CallOutcome:
        if self.address is None:
            raise CallError(f"{self.artifact.name} is not deployed: call deploy() first")
        fn = abi.find_function(self.artifact.abi, fn_name, len(args))
        data = abi.selector(fn) + abi.encode_arguments(fn.get("inputs", ()), args, item=fn)
        if commit:
            result = self.kernel.call(self.address, self.state, context, input=data)
        else:
            scratch = WorldState(self.state) if isinstance(self.state, Storage) else self.state
            scratch.snapshot()
            try:
                result = self.kernel.call(self.address, scratch, context, input=data)
            finally:
                scratch.rollback_snapshot()
        return decode_outcome(self.artifact.abi, fn, result)

    def transact(self, fn_name: str, *args: object, caller: bytes, **context: Any) -> CallOutcome:
        """Call ``fn_name`` as ``caller``; its writes are kept if it succeeds."""
        return self._call(fn_name, args, ExecutionContext(caller=caller, **context), commit=True)

    def call(
        self, fn_name: str, *args: object, caller: bytes = ZERO_ADDRESS, **context: Any
    ) -> CallOutcome:
        """Call ``fn_name`` without keeping any write (a read-only query)."""
        return self._call(fn_name, args, ExecutionContext(caller=caller, **context), commit=False)


def decode_outcome(
    abi_items: Sequence[Mapping[str, Any]], fn: Mapping[str, Any], result: ExecutionResult
) -> CallOutcome:
    """Decode a call's return data, logs and revert reason with the contract's ABI."""
    values: tuple[object, ...] = ()
    if result.ok:
        values = tuple(abi.decode_output(fn, result.return_data))
    events = []
    for log in result.logs:
        decoded = abi.decode_log(abi_items, log)
        if decoded is not None:
            events.append((decoded.event, decoded.args))
    reason = None if result.ok else abi.decode_revert(result.return_data, abi_items)
    return CallOutcome(result, values, tuple(events), reason)
