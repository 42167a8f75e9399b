"""The example counter (examples/contracts/counter-as), compiled by the plugin, on SuperVM."""

from __future__ import annotations

from typing import Any

from Crypto.Hash import keccak
from supervm import ExecutionContext
from supervm.tooling.compilers import Artifact
from supervm.tooling.contracts import Contract

ALICE = bytes.fromhex("a1" * 20)
BOB = bytes.fromhex("b0" * 20)


def test_counter_abi(counter_artifact: Artifact) -> None:
    assert counter_artifact.name == "Counter"
    summary = {
        (i["type"], i.get("name", ""), tuple(p["type"] for p in i.get("inputs", ())))
        for i in counter_artifact.abi
    }
    assert summary == {
        ("constructor", "", ("uint64",)),
        ("function", "get", ()),
        ("function", "increment", ()),
        ("function", "add", ("uint64",)),
        ("function", "reset", ()),
        ("event", "CountChanged", ("address", "uint64")),
    }


def test_counter_counts_and_logs(counter_artifact: Artifact, deploy: Any) -> None:
    counter: Contract = deploy(counter_artifact, 5)
    assert counter.call("get").value == 5
    outcome = counter.transact("increment", caller=ALICE)
    assert outcome.ok and outcome.value == 6
    (log,) = outcome.result.logs
    assert (
        log.topics[0] == keccak.new(data=b"CountChanged(address,uint64)", digest_bits=256).digest()
    )
    assert log.topics[1] == bytes(12) + ALICE
    assert outcome.events == (("CountChanged", {"by": "0x" + ALICE.hex(), "count": 6}),)
    assert counter.transact("add", 10, caller=BOB).value == 16
    assert counter.call("get").value == 16
    overflow = counter.transact("add", 2**64 - 1, caller=BOB)
    assert overflow.revert_reason == "Counter: overflow"
    assert counter.call("get").value == 16
    assert counter.transact("reset", caller=BOB).ok
    assert counter.call("get", caller=ALICE).value == 0


def test_each_call_runs_in_a_fresh_instance(counter_artifact: Artifact, deploy: Any) -> None:
    """State persists only through storage: many calls in a row each see the stored count."""
    counter: Contract = deploy(counter_artifact, 0)
    for expected in range(1, 51):
        assert counter.transact("increment", caller=ALICE, block_number=expected).value == expected
    assert counter.address is not None
    plain = counter.kernel.call(counter.address, counter.state, ExecutionContext(), entry="call",
                                input=bytes.fromhex("6d4ce63c"))  # fmt: skip
    assert plain.return_data == (50).to_bytes(32, "big")
