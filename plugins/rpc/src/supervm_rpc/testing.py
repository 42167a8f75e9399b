"""Test helpers: a node's services run in a background thread's event loop, reached over real
sockets with a small synchronous JSON-RPC client.

For this plugin's tests and for plugin authors testing the methods they register::

    node = NodeThread(kernel, NodeConfig(dev=True, data_dir=tmp, rpc_port=0))
    assert node.call("eth_chainId") == "0x7a69"
    node.stop()
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from supervm.chain.dev_accounts import DevAccount
from supervm.chain.transactions import UnsignedTransaction, encode_transaction, sign_transaction
from supervm.kernel import Kernel
from supervm.node import CONFIG, ENDPOINTS, NodeConfig
from supervm.plugins.registry import ServiceRegistry
from supervm.services.host import ServiceHost
from supervm.services.service import Stash
from supervm.tooling.compilers import Artifact, CompileSettings

T = TypeVar("T")


def hx(raw: bytes) -> str:
    """``0x`` and the hex of ``raw``."""
    return "0x" + raw.hex()


class RpcFailure(AssertionError):
    """A call answered with an error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['code']}: {error['message']}")
        self.error = error
        self.code = error["code"]
        self.message = error["message"]
        self.data = error.get("data")


class NodeThread:
    """A ServiceHost running in its own thread and event loop."""

    def __init__(
        self, kernel: Kernel, config: NodeConfig, services: ServiceRegistry | None = None
    ) -> None:
        self.kernel = kernel
        self.stash = Stash()
        self.stash[CONFIG] = config
        self.host = ServiceHost(kernel, services, stash=self.stash)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.run(self.host.start())
        self.url: str = self.stash[ENDPOINTS]["rpc"]
        self.ws_url = "ws" + self.url.removeprefix("http")
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))
        self._ids = 0
        self.chain_id = int(self.call("eth_chainId"), 16)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` in the node's loop and wait for it."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        try:
            self.run(self.host.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def post(
        self, body: bytes | object, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` (JSON-encoded unless bytes); status, headers and body."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url,
            data=raw,
            method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def request(self, method: str, *params: Any) -> dict[str, Any]:
        """One call's whole response object."""
        self._ids += 1
        status, _headers, body = self.post(
            {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}
        )
        assert status == 200, body
        answer: dict[str, Any] = json.loads(body)
        assert answer["id"] == self._ids and answer["jsonrpc"] == "2.0"
        return answer

    def call(self, method: str, *params: Any) -> Any:
        """One call's result; :class:`RpcFailure` for an error."""
        answer = self.request(method, *params)
        if "error" in answer:
            assert "result" not in answer
            raise RpcFailure(answer["error"])
        return answer["result"]

    def error(self, method: str, *params: Any) -> RpcFailure:
        """The error a call must answer."""
        try:
            result = self.call(method, *params)
        except RpcFailure as failure:
            return failure
        raise AssertionError(f"{method} answered {result!r}, expected an error")

    # -- the chain ----------------------------------------------------------------------------

    def send(self, account: DevAccount, to: bytes | None, data: bytes = b"", **fields: Any) -> str:
        """Sign and send a transaction with eth_sendRawTransaction; its hash."""
        raw = self.sign(account, to, data, **fields)
        result: str = self.call("eth_sendRawTransaction", "0x" + raw.hex())
        return result

    def sign(
        self, account: DevAccount, to: bytes | None, data: bytes = b"", **fields: Any
    ) -> bytes:
        nonce = fields.pop("nonce", None)
        if nonce is None:
            nonce = int(self.call("eth_getTransactionCount", hx(account.address), "pending"), 16)
        unsigned = UnsignedTransaction(
            **{
                "type": 2,
                "chain_id": self.chain_id,
                "nonce": nonce,
                "max_priority_fee_per_gas": 10**9,
                "max_fee_per_gas": 10 * 10**9,
                "gas": 3_000_000,
                "to": to,
                "data": data,
                **fields,
            }
        )
        return encode_transaction(sign_transaction(unsigned, account.private_key))

    def receipt(self, tx_hash: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait for ``tx_hash``'s receipt."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                assert isinstance(receipt, dict)
                return receipt
            time.sleep(0.02)
        raise AssertionError(f"no receipt for {tx_hash} within {timeout} s")

    def wait_block(self, number: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while int(self.call("eth_blockNumber"), 16) < number:
            if time.monotonic() > deadline:
                raise AssertionError(f"block {number} did not come within {timeout} s")
            time.sleep(0.02)

    def transfer(self, account: DevAccount, to: bytes, value: int = 1) -> dict[str, Any]:
        """A plain value transfer, mined: its receipt."""
        return self.receipt(self.send(account, to, value=value, gas=21_000))


def compile_contract(kernel: Kernel, source: Path, node_modules: Path) -> Artifact:
    """The one contract in ``source``, compiled through the kernel's compiler registry with the
    toolchain in ``node_modules`` and the host functions the kernel offers."""
    entry = kernel.compilers().for_path(source)
    assert entry is not None, f"no compiler for {source.name} is installed"
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    settings = CompileSettings(node_modules=node_modules, known_imports=known)
    (artifact,) = entry.value.compile([source], settings)
    return artifact


#: What ``supervm node`` prints once it serves (the same words as Hardhat's ``npx hardhat node``).
SERVING_LINE = re.compile(r"Started HTTP and WebSocket JSON-RPC server at (http://\S+)")


class NodeProcessError(AssertionError):
    """A ``supervm node`` process that did not start, died, or did not stop cleanly; the message
    carries the end of its output. An AssertionError, so that a test fixture fails with it."""


class NodeProcess:
    """A ``supervm node`` process, its output in files (a pipe nobody reads would fill up).

    :param argv: the command, ``[supervm, "node", ...]``.
    :param work: a directory for its ``stdout.txt`` and ``stderr.txt`` (and its working dir).
    """

    def __init__(self, argv: list[str], work: Path) -> None:
        self.stdout_path = work / "stdout.txt"
        self.stderr_path = work / "stderr.txt"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=work
            )

    def tail(self, limit: int = 4000) -> str:
        """The end of its log (stderr), for failure messages."""
        path = self.stderr_path
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-limit:] or "(empty)"

    def wait_until_serving(self, timeout: float = 60.0) -> str:
        """Its JSON-RPC URL once it prints that it serves."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = SERVING_LINE.search(self.stdout_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                stdout = self.stdout_path.read_text(errors="replace")[-4000:]
                raise NodeProcessError(
                    f"supervm node exited with code {self.proc.returncode} before serving "
                    f"JSON-RPC\n--- stdout ---\n{stdout}\n--- stderr ---\n{self.tail()}"
                )
            time.sleep(0.05)
        raise NodeProcessError(
            f"supervm node did not print 'Started HTTP and WebSocket JSON-RPC server at ...' "
            f"within {timeout:.0f} s\n--- stderr ---\n{self.tail()}"
        )

    def kill(self) -> None:
        """Kill it if it runs (cleaning up after a failed start)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT (what Ctrl-C sends), then SIGKILL; an error unless it stopped cleanly."""
        proc = self.proc
        if proc.poll() is not None:
            raise NodeProcessError(
                f"supervm node died during the tests (exit {proc.returncode})\n{self.tail()}"
            )
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
            raise NodeProcessError(
                f"supervm node ignored SIGINT for {timeout:.0f} s\n{self.tail()}"
            ) from None
        if proc.returncode != 0:
            raise NodeProcessError(
                f"supervm node exited with {proc.returncode} on SIGINT\n{self.tail()}"
            )


# -- log filters under reorgs ----------------------------------------------------------------

#: The topic :data:`LOGGER_WAT` logs under.
LOGGER_TOPIC = bytes([0xAA]) * 32
#: A WebAssembly contract whose ``call`` logs its input under :data:`LOGGER_TOPIC`: the log
#: source of the reorg tests (the RPC's filters, the network plugin's importer).
LOGGER_WAT = """
(module
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa"
                      "\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa\\aa")
  (func (export "call")
    (call $rin (i32.const 64))
    (drop (call $log (i32.const 0) (i32.const 1) (i32.const 64) (call $ilen)))))
"""


def logger_genesis(sender: bytes, contracts: Sequence[bytes], engine: str) -> bytes:
    """A dev genesis (JSON) funding ``sender``, with :data:`LOGGER_WAT` deployed at each of
    ``contracts``, under the consensus ``engine``."""
    import wasmtime  # only the tests that use the logger need it
    from supervm.chain.genesis import dev_genesis
    from supervm.execution.wasm_binary import with_end_marker

    code = "0x" + with_end_marker(bytes(wasmtime.wat2wasm(LOGGER_WAT))).hex()
    data: dict[str, Any] = dev_genesis((sender,))
    for address in contracts:
        data["alloc"]["0x" + address.hex()] = {"code": code}
    data["supervm"]["consensus"] = {"engine": engine}
    return json.dumps(data).encode()


def log_summary(logs: list[dict[str, Any]]) -> list[tuple[str, int, bool]]:
    """(input, block number, removed) of each of :data:`LOGGER_WAT`'s logs, as served."""
    return [
        (bytes.fromhex(item["data"][2:]).decode(), int(item["blockNumber"], 16), item["removed"])
        for item in logs
    ]
