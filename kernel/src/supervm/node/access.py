"""The chain as a node's services see it: reads, one writer, calls and gas estimates.

Reads (headers, blocks, receipts, the head's state) are answered in the event loop's thread from
committed storage. Writes (sealing or importing a block) take seconds for a full block, so they
run in one writer thread, one at a time, through :meth:`NodeChain.write`; the head a reader sees
moves only once a block is committed in full. Calls run on a throwaway overlay of the head's
state and never write.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

import attrs

from supervm.chain.blocks import EMPTY_TRIE_ROOT, BlockHeader
from supervm.chain.chain import Chain
from supervm.chain.dev_accounts import DevAccount
from supervm.chain.pipeline import BLOCK_HASH_WINDOW, env_for, next_base_fee, recent_hashes
from supervm.chain.processor import BlockEnv, TransactionExecutor, TransactionResult
from supervm.chain.transactions import DYNAMIC_FEE_TX_TYPE, UnsignedTransaction
from supervm.errors import SuperVMError
from supervm.state.commitment import TRIE_NODE_PREFIX
from supervm.state.historical import HistoricalStorage
from supervm.state.world import WorldState

T = TypeVar("T")

#: The gas a simple value transfer costs: eth_estimateGas's lower bound.
_TRANSFER_GAS = 21_000


class HistoricalStateError(SuperVMError):
    """The state of an earlier block cannot be read (its trie nodes are missing)."""


@attrs.frozen(kw_only=True)
class CallRequest:
    """An ``eth_call`` / ``eth_estimateGas`` call object.

    :param sender: ``from`` (the zero address if absent, as geth does).
    :param to: the contract or account called; ``None`` runs ``data`` as a create.
    :param data: the calldata (``data`` or ``input``).
    :param value: wei sent along.
    :param gas: the gas limit; ``None`` for the node's cap.
    """

    sender: bytes = bytes(20)
    to: bytes | None = None
    data: bytes = b""
    value: int = 0
    gas: int | None = None


class NodeChain:
    """A :class:`Chain` shared by a node's services.

    :param chain: the opened chain.
    :param accounts: accounts the node holds keys for (``eth_accounts``); the dev accounts in
        dev mode, none otherwise.
    :param gas_cap: the most gas a call or an estimate may use.
    """

    def __init__(
        self, chain: Chain, *, accounts: tuple[DevAccount, ...] = (), gas_cap: int = 50_000_000
    ) -> None:
        self.chain = chain
        self.store = chain.store
        self.accounts = accounts
        self.gas_cap = gas_cap
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chain-writer")
        self._lock = asyncio.Lock()

    # -- reading ------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        """The chain's EIP-155 id."""
        return self.chain.chain_id

    @property
    def head(self) -> BlockHeader:
        """The canonical head's header."""
        return self.chain.head

    def state(self, header: BlockHeader | None = None) -> WorldState:
        """A world state over the state after ``header``'s block (default: the head's).

        The head's state is read from the flat layout; an earlier block's through its state
        root's tries (:class:`~supervm.state.historical.HistoricalStorage`), slower but
        complete: every block's trie nodes are kept.

        :raises HistoricalStateError: if the block's trie nodes are not stored.
        """
        chain = self.chain
        if header is None or header.hash == chain.head.hash:
            return chain.state()
        root_stored = chain.storage.get(TRIE_NODE_PREFIX + header.state_root) is not None
        if not root_stored and header.state_root != EMPTY_TRIE_ROOT:
            raise HistoricalStateError(
                f"historical state unavailable: the trie nodes of block {header.number}'s "
                f"state root 0x{header.state_root.hex()} are not stored"
            )
        root = chain.open_root(header.state_root)
        return WorldState(HistoricalStorage(root, chain.storage))

    def next_env(self) -> BlockEnv:
        """The environment of the block that would come after the head."""
        head = self.chain.head
        return BlockEnv(
            chain_id=self.chain_id,
            number=head.number + 1,
            timestamp=head.timestamp + 1,
            coinbase=head.coinbase,
            gas_limit=head.gas_limit,
            base_fee=next_base_fee(head),
            block_hashes=(
                head.hash,
                *recent_hashes(self.chain.store, head)[: BLOCK_HASH_WINDOW - 1],
            ),
        )

    def env_of(self, header: BlockHeader) -> BlockEnv:
        """The environment ``header``'s block ran in."""
        return env_for(header, self.chain_id, self.chain.store)

    # -- calls --------------------------------------------------------------------------------

    def call(self, request: CallRequest, header: BlockHeader | None = None) -> TransactionResult:
        """Run ``request`` on ``header``'s state (default: the head's) and drop its changes.

        The call runs in ``header``'s block environment (its number, time, base fee), as geth's
        does; a request with no gas runs with :attr:`gas_cap`.

        Execution backends keep per-call state on shared instances, so a call must not run
        while the writer thread builds a block: from the event loop, run it through
        :meth:`write` (``await node.write(lambda _: node.call(request))``).
        """
        header = header or self.chain.head
        env = self.env_of(header)
        gas = min(request.gas if request.gas is not None else self.gas_cap, self.gas_cap)
        return self._simulate(request, gas, env, header)

    def estimate_gas(self, request: CallRequest, header: BlockHeader | None = None) -> int:
        """The least gas limit under which ``request`` succeeds (geth's binary search).

        :raises CallFailed: if it fails even with the most gas allowed, with that run's result.
        """
        header = header or self.chain.head
        env = self.env_of(header)
        high = min(request.gas if request.gas is not None else env.gas_limit, self.gas_cap)
        result = self._simulate(request, high, env, header)
        if result.error is not None:
            raise CallFailed(result)
        # The first run's gas used is almost always enough; confirm it before searching.
        low = max(result.gas_used, _TRANSFER_GAS) - 1
        if self._simulate(request, low + 1, env, header).error is None:
            return low + 1
        while low + 1 < high:
            mid = (low + high) // 2
            if self._simulate(request, mid, env, header).error is None:
                high = mid
            else:
                low = mid
        return high

    def _simulate(
        self, request: CallRequest, gas: int, env: BlockEnv, header: BlockHeader
    ) -> TransactionResult:
        tx = UnsignedTransaction(
            type=DYNAMIC_FEE_TX_TYPE,
            chain_id=env.chain_id,
            nonce=0,
            max_priority_fee_per_gas=0,
            max_fee_per_gas=env.base_fee,
            gas=gas,
            to=request.to,
            value=request.value,
            data=request.data,
        )
        executor = TransactionExecutor(self.chain.kernel, env)
        return executor.simulate(tx, request.sender, self.state(header))

    # -- writing ------------------------------------------------------------------------------

    async def write(self, work: Callable[[Chain], T]) -> T:
        """Run ``work(chain)`` in the writer thread, after any write before it, and return its
        result; the event loop keeps serving while it runs."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer, work, self.chain)

    def close(self) -> None:
        """Wait for the writer to finish and close the chain."""
        self._writer.shutdown(wait=True)
        self.chain.close()


class CallFailed(SuperVMError):
    """A call failed (reverted, ran out of gas, trapped); ``result`` says how."""

    def __init__(self, result: TransactionResult) -> None:
        error = result.error
        super().__init__(error.message if error is not None else "call failed")
        self.result = result
