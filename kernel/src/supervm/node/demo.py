"""``supervm node --dev --demo ARTIFACT``: what ``make run`` shows a newcomer.

Once the node is serving, a client deploys the ERC20 artifact with a signed create transaction
sent to the node's own JSON-RPC endpoint, makes a few transfers between the dev accounts, and
prints each receipt readably: exactly what web3.py or ethers would do, over the same socket.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervm.chain.dev_accounts import dev_account
from supervm.chain.transactions import (
    DYNAMIC_FEE_TX_TYPE,
    UnsignedTransaction,
    encode_transaction,
    sign_transaction,
)
from supervm.errors import SuperVMError
from supervm.model import Log
from supervm.tooling import abi as ethabi
from supervm.tooling.artifacts import load_artifact

#: Tokens the demo mints to account 0 and how much each transfer moves.
_SUPPLY = 1_000_000 * 10**18
_TRANSFERS = ((1, 250 * 10**18), (2, 100 * 10**18), (3, 42 * 10**18))


class DemoError(SuperVMError):
    """The demo could not run (its artifact, or a call the node answered with an error)."""


class _Client:
    """A minimal JSON-RPC client over HTTP (the standard library's, to stay dependency-free)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        request = urllib.request.Request(
            self.url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise DemoError(f"{method}: {answer['error'].get('message')}")
        return answer["result"]


async def run_demo(url: str, artifact_path: Path, echo: Callable[[str], None]) -> None:
    """Deploy ``artifact_path``'s ERC20 through ``url`` and make a few transfers."""
    await asyncio.to_thread(_demo, _Client(url), artifact_path, echo)


def _demo(client: _Client, artifact_path: Path, echo: Callable[[str], None]) -> None:
    artifact = load_artifact(artifact_path)
    abi = artifact.abi
    chain_id = int(client.call("eth_chainId"), 16)
    owner = dev_account(0)
    nonce = int(client.call("eth_getTransactionCount", "0x" + owner.address.hex(), "pending"), 16)

    def send(to: bytes | None, data: bytes, gas: int) -> dict[str, Any]:
        nonlocal nonce
        base_fee = int(client.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        tx = sign_transaction(
            UnsignedTransaction(
                type=DYNAMIC_FEE_TX_TYPE,
                chain_id=chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=10**9,
                max_fee_per_gas=2 * base_fee + 10**9,
                gas=gas,
                to=to,
                data=data,
            ),
            owner.private_key,
        )
        nonce += 1
        tx_hash = client.call("eth_sendRawTransaction", "0x" + encode_transaction(tx).hex())
        for _ in range(600):
            receipt = client.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            time.sleep(0.05)
        raise DemoError(f"transaction {tx_hash} was not included within 30 s")

    ctor = ethabi.constructor(abi)
    args = (
        ethabi.encode_arguments(ctor.get("inputs", ()), ["Demo Token", "DEMO", _SUPPLY])
        if ctor
        else b""
    )
    echo(
        f"deploying {artifact.name} ({artifact.kind}, {len(artifact.bytecode):,} bytes) "
        "from account 0"
    )
    receipt = send(None, artifact.bytecode + args, 5_000_000)
    token = receipt.get("contractAddress")
    _show(echo, "deploy", receipt, abi)
    if receipt["status"] != "0x1" or not token:
        raise DemoError("the deployment failed")
    token_bytes = bytes.fromhex(token[2:])
    for index, amount in _TRANSFERS:
        to = dev_account(index).address
        data = ethabi.encode_call(abi, "transfer", ["0x" + to.hex(), amount])
        _show(
            echo,
            f"transfer {amount // 10**18} DEMO to account {index}",
            send(token_bytes, data, 200_000),
            abi,
        )
    for index in (0, *[i for i, _ in _TRANSFERS]):
        address = "0x" + dev_account(index).address.hex()
        data = ethabi.encode_call(abi, "balanceOf", [address])
        raw = client.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest")
        fn = ethabi.find_function(abi, "balanceOf", 1)
        (balance,) = ethabi.decode_output(fn, bytes.fromhex(raw[2:]))
        echo(f"  balanceOf(account {index}) = {balance / 10**18:,.0f} DEMO")


def _show(echo: Callable[[str], None], what: str, receipt: dict[str, Any], abi: Any) -> None:
    status = "success" if receipt["status"] == "0x1" else "FAILED"
    echo(f"- {what}: {status}")
    echo(f"    tx {receipt['transactionHash']}")
    echo(
        f"    block {int(receipt['blockNumber'], 16)}, gas used {int(receipt['gasUsed'], 16):,}, "
        f"price {int(receipt['effectiveGasPrice'], 16) / 10**9:g} gwei"
    )
    if receipt.get("contractAddress"):
        echo(f"    contract {receipt['contractAddress']}")
    for entry in receipt.get("logs", ()):
        log = Log(
            address=bytes.fromhex(entry["address"][2:]),
            topics=tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
            data=bytes.fromhex(entry["data"][2:]),
        )
        decoded = ethabi.decode_log(abi, log)
        if decoded is None:
            echo(f"    log {entry['address']} {len(entry['topics'])} topics")
        else:
            fields = ", ".join(f"{k}={v}" for k, v in decoded.args.items())
            echo(f"    event {decoded.event}({fields})")
