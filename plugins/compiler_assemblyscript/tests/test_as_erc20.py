"""The example ERC20 (examples/contracts/erc20-as), compiled by the plugin, on SuperVM's WASM VM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_abi import decode, encode
from supervm import ErrorKind, ExecutionContext, Kernel, WorldState
from supervm.tooling.abi import selector
from supervm.tooling.compilers import Artifact
from supervm.tooling.contracts import Contract

DEPLOYER = bytes.fromhex("d0" * 20)
ALICE = bytes.fromhex("a1" * 20)
BOB = bytes.fromhex("b0" * 20)
ZERO = bytes(20)
SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
APPROVAL_TOPIC = bytes.fromhex("8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
MAX = 2**256 - 1


def hx(raw: bytes) -> str:
    return "0x" + raw.hex()


@pytest.fixture(params=["plain", "optimized"])
def token(request: pytest.FixtureRequest, deploy: Any) -> Contract:
    artifact: Artifact = request.getfixturevalue(
        "erc20" if request.param == "plain" else "erc20_optimized"
    )
    contract: Contract = deploy(artifact, "Super Token", "SUP", SUPPLY)
    return contract


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_abi_matches_openzeppelin(erc20: Artifact, oz_erc20_abi: list[dict[str, Any]]) -> None:
    def shape(items: Any) -> set[str]:
        out = set()
        for item in items:
            if item["type"] not in ("function", "event"):
                continue
            inputs = ",".join(
                f"{p['type']}{' indexed' if p.get('indexed') else ''} {p['name']}"
                for p in item["inputs"]
            )
            outputs = ",".join(p["type"] for p in item.get("outputs", ()))
            mutability = item.get("stateMutability", "")
            out.add(f"{item['type']} {item['name']}({inputs}) {mutability} -> ({outputs})")
        return out

    assert shape(erc20.abi) == shape(oz_erc20_abi)
    # Beyond the signatures, every item is exactly OpenZeppelin's (custom errors aside).
    ours = sorted(json.dumps(i, sort_keys=True) for i in erc20.abi if i["type"] != "constructor")
    theirs = sorted(json.dumps(i, sort_keys=True) for i in oz_erc20_abi if i["type"] != "error")
    assert ours == theirs
    (ctor,) = [i for i in erc20.abi if i["type"] == "constructor"]
    assert [(p["type"], p["name"]) for p in ctor["inputs"]] == [
        ("string", "name"),
        ("string", "symbol"),
        ("uint256", "initialSupply"),
    ]


def test_artifact(erc20: Artifact) -> None:
    assert erc20.name == "ERC20"
    assert erc20.kind == "wasm"
    assert erc20.bytecode.startswith(b"\0asm")
    assert erc20.compiler.name == "assemblyscript"
    assert erc20.compiler.version == "0.28.20"


def test_deploy_mints_the_supply_to_the_deployer(kernel: Kernel, erc20: Artifact) -> None:
    contract = Contract(kernel, erc20, kernel.open_storage("memory"))
    deployment = contract.deploy(ExecutionContext(caller=DEPLOYER), "Super Token", "SUP", SUPPLY)
    assert deployment.ok, deployment.result.error
    (log,) = deployment.result.logs
    assert log.address == contract.address
    assert log.topics == (TRANSFER_TOPIC, word(0), bytes(12) + DEPLOYER)
    assert log.data == word(SUPPLY)
    assert contract.call("name").value == "Super Token"
    assert contract.call("symbol").value == "SUP"
    assert contract.call("decimals").value == 18
    assert contract.call("totalSupply").value == SUPPLY
    assert contract.call("balanceOf", hx(DEPLOYER)).value == SUPPLY
    assert contract.call("balanceOf", hx(ALICE)).value == 0


def test_deploy_runs_once(token: Contract) -> None:
    assert token.address is not None
    again = token.kernel.call(
        token.address,
        token.state,
        ExecutionContext(caller=ALICE),
        entry="deploy",
        input=encode(["string", "string", "uint256"], ["X", "X", 1]),
    )
    assert not again.ok
    assert token.call("balanceOf", hx(ALICE)).value == 0
    assert token.call("name").value == "Super Token"


def test_transfer_moves_tokens_and_logs(token: Contract) -> None:
    outcome = token.transact("transfer", hx(ALICE), 250, caller=DEPLOYER)
    assert outcome.ok, outcome.result.error
    assert outcome.values == (True,)
    assert outcome.result.return_data == word(1)
    (log,) = outcome.result.logs
    assert log.topics == (TRANSFER_TOPIC, bytes(12) + DEPLOYER, bytes(12) + ALICE)
    assert decode(["uint256"], log.data) == (250,)
    assert outcome.events == (("Transfer", {"from": hx(DEPLOYER), "to": hx(ALICE), "value": 250}),)
    assert token.call("balanceOf", hx(ALICE)).value == 250
    assert token.call("balanceOf", hx(DEPLOYER)).value == SUPPLY - 250
    assert token.call("totalSupply").value == SUPPLY


def test_transfers_among_many_accounts(token: Contract) -> None:
    accounts = [bytes(19) + bytes([i]) for i in range(1, 41)]
    for i, account in enumerate(accounts):
        assert token.transact("transfer", hx(account), 1000 + i, caller=DEPLOYER).ok
    for i, account in enumerate(accounts):
        nxt = accounts[(i + 1) % len(accounts)]
        assert token.transact("transfer", hx(nxt), 10, caller=account).ok
    balances = [token.call("balanceOf", hx(a)).value for a in accounts]
    assert balances == [1000 + i for i in range(40)]
    assert sum(balances) + token.call("balanceOf", hx(DEPLOYER)).value == SUPPLY


def test_self_transfer_and_zero_transfer(token: Contract) -> None:
    assert token.transact("transfer", hx(DEPLOYER), 7, caller=DEPLOYER).ok
    assert token.call("balanceOf", hx(DEPLOYER)).value == SUPPLY
    outcome = token.transact("transfer", hx(ALICE), 0, caller=BOB)
    assert outcome.ok and outcome.values == (True,)
    assert outcome.events == (("Transfer", {"from": hx(BOB), "to": hx(ALICE), "value": 0}),)


def test_transfer_beyond_the_balance_reverts_and_changes_nothing(token: Contract) -> None:
    assert token.transact("transfer", hx(ALICE), 100, caller=DEPLOYER).ok
    before = list(token.state.iterate())  # type: ignore[union-attr]
    outcome = token.transact("transfer", hx(BOB), 101, caller=ALICE)
    assert not outcome.ok
    assert outcome.result.error is not None
    assert outcome.result.error.kind == ErrorKind.REVERT
    assert outcome.revert_reason == "ERC20: transfer amount exceeds balance"
    assert outcome.result.return_data[:4] == bytes.fromhex("08c379a0")
    assert decode(["string"], outcome.result.return_data[4:]) == (
        "ERC20: transfer amount exceeds balance",
    )
    assert outcome.result.logs == ()
    assert list(token.state.iterate()) == before  # type: ignore[union-attr]
    assert token.call("balanceOf", hx(ALICE)).value == 100
    assert token.call("balanceOf", hx(BOB)).value == 0


def test_transfer_to_the_zero_address_reverts(token: Contract) -> None:
    outcome = token.transact("transfer", hx(ZERO), 1, caller=DEPLOYER)
    assert outcome.revert_reason == "ERC20: transfer to the zero address"


def test_approve_and_allowance(token: Contract) -> None:
    outcome = token.transact("approve", hx(ALICE), 500, caller=DEPLOYER)
    assert outcome.ok and outcome.values == (True,)
    (log,) = outcome.result.logs
    assert log.topics == (APPROVAL_TOPIC, bytes(12) + DEPLOYER, bytes(12) + ALICE)
    assert outcome.events == (
        ("Approval", {"owner": hx(DEPLOYER), "spender": hx(ALICE), "value": 500}),
    )
    assert token.call("allowance", hx(DEPLOYER), hx(ALICE)).value == 500
    assert token.call("allowance", hx(ALICE), hx(DEPLOYER)).value == 0
    assert token.transact("approve", hx(ALICE), 20, caller=DEPLOYER).ok
    assert token.call("allowance", hx(DEPLOYER), hx(ALICE)).value == 20
    zero = token.transact("approve", hx(ZERO), 1, caller=DEPLOYER)
    assert zero.revert_reason == "ERC20: approve to the zero address"


def test_transfer_from_spends_the_allowance(token: Contract) -> None:
    assert token.transact("approve", hx(ALICE), 300, caller=DEPLOYER).ok
    outcome = token.transact("transferFrom", hx(DEPLOYER), hx(BOB), 120, caller=ALICE)
    assert outcome.ok, outcome.revert_reason
    assert outcome.values == (True,)
    assert outcome.events == (("Transfer", {"from": hx(DEPLOYER), "to": hx(BOB), "value": 120}),)
    assert token.call("allowance", hx(DEPLOYER), hx(ALICE)).value == 180
    assert token.call("balanceOf", hx(BOB)).value == 120
    assert token.call("balanceOf", hx(DEPLOYER)).value == SUPPLY - 120


def test_transfer_from_beyond_the_allowance_reverts(token: Contract) -> None:
    assert token.transact("approve", hx(ALICE), 50, caller=DEPLOYER).ok
    outcome = token.transact("transferFrom", hx(DEPLOYER), hx(BOB), 51, caller=ALICE)
    assert not outcome.ok
    assert outcome.revert_reason == "ERC20: insufficient allowance"
    assert token.call("allowance", hx(DEPLOYER), hx(ALICE)).value == 50
    assert token.call("balanceOf", hx(BOB)).value == 0
    # Without any allowance, too.
    none = token.transact("transferFrom", hx(DEPLOYER), hx(BOB), 1, caller=BOB)
    assert none.revert_reason == "ERC20: insufficient allowance"


def test_transfer_from_beyond_the_balance_reverts_and_keeps_the_allowance(token: Contract) -> None:
    assert token.transact("transfer", hx(ALICE), 10, caller=DEPLOYER).ok
    assert token.transact("approve", hx(BOB), 100, caller=ALICE).ok
    outcome = token.transact("transferFrom", hx(ALICE), hx(BOB), 11, caller=BOB)
    assert outcome.revert_reason == "ERC20: transfer amount exceeds balance"
    assert token.call("allowance", hx(ALICE), hx(BOB)).value == 100


def test_infinite_allowance_is_not_spent(token: Contract) -> None:
    assert token.transact("approve", hx(ALICE), MAX, caller=DEPLOYER).ok
    assert token.transact("transferFrom", hx(DEPLOYER), hx(BOB), 5, caller=ALICE).ok
    assert token.call("allowance", hx(DEPLOYER), hx(ALICE)).value == MAX


def test_bad_calldata_reverts_with_a_reason(token: Contract, raw: Any) -> None:
    unknown = raw(token, "", data=bytes.fromhex("12345678"))
    assert not unknown.ok
    assert decode(["string"], unknown.return_data[4:]) == ("unknown function selector 0x12345678",)
    short = raw(token, "", data=selector("transfer(address,uint256)") + bytes(40))
    assert decode(["string"], short.return_data[4:]) == ("ABI decoding: data too short",)
    dirty = raw(
        token, "", data=selector("transfer(address,uint256)") + b"\x01" + bytes(31) + word(1)
    )
    assert decode(["string"], dirty.return_data[4:]) == ("ABI decoding: invalid address",)
    empty = raw(token, "", data=b"")
    assert not empty.ok


def test_host_calls_per_transfer(kernel: Kernel, erc20: Artifact) -> None:
    """A transfer makes 8 host calls (counted by wrapping the host functions' Python code); the
    credit is a storage_add, which reads nothing."""
    from supervm_wasm_wasmtime import abi as host

    contract = Contract(kernel, erc20, kernel.open_storage("memory"))
    assert contract.deploy(ExecutionContext(caller=DEPLOYER), "T", "T", SUPPLY).ok
    assert contract.transact("transfer", hx(ALICE), 5, caller=DEPLOYER).ok
    assert contract.address is not None
    names = [
        "input_len", "read_input", "caller", "storage_get", "storage_read_value", "storage_read",
        "storage_set", "storage_add", "emit_log", "set_return",
    ]  # fmt: skip
    counts = dict.fromkeys(names, 0)
    originals = {n: getattr(host, n) for n in names}

    def counting(name: str) -> Any:
        def wrapper(*args: Any) -> Any:
            counts[name] += 1
            return originals[name](*args)

        return wrapper

    def transfer(fresh: Kernel, sender: bytes, to: bytes) -> dict[str, int]:
        counts.update(dict.fromkeys(names, 0))
        data = selector("transfer(address,uint256)") + encode(["address", "uint256"], [hx(to), 1])
        assert contract.address is not None
        state = WorldState(contract.state)
        result = fresh.call(contract.address, state, ExecutionContext(caller=sender), input=data)
        assert result.ok, result.error
        return {name: n for name, n in counts.items() if n}

    with pytest.MonkeyPatch.context() as mp:
        for n in names:
            mp.setattr(host, n, counting(n))
        with Kernel.from_plugins(env={}) as fresh:  # its VM binds the wrapped functions
            to_new = transfer(fresh, ALICE, BOB)
            to_existing = transfer(fresh, ALICE, DEPLOYER)
    expected = {
        "input_len": 1,
        "read_input": 1,
        "caller": 1,
        "storage_read": 1,
        "storage_set": 1,
        "storage_add": 1,
        "emit_log": 1,
        "set_return": 1,
    }
    assert to_existing == expected
    assert to_new == expected
    assert sum(expected.values()) == 8


def test_bytecode_plus_constructor_arguments_is_a_create_transaction(
    kernel: Kernel, erc20: Artifact
) -> None:
    """As with Solidity, ``bytecode + abi-encoded args`` deploys the contract on a chain."""
    import json as json_

    from supervm.chain.chain import Chain
    from supervm.chain.dev_accounts import dev_accounts
    from supervm.chain.genesis import dev_genesis, parse_genesis
    from supervm.chain.transactions import UnsignedTransaction, sign_transaction
    from supervm.execution.wasm_binary import split_create_data

    args = encode(["string", "string", "uint256"], ["Token", "TOK", 1000])
    assert split_create_data(erc20.bytecode + args) == (erc20.bytecode, args)
    (alice,) = dev_accounts(1)
    genesis = dev_genesis((alice.address,))
    chain = Chain.initialise(
        kernel, kernel.open_storage("memory"), parse_genesis(genesis), json_.dumps(genesis).encode()
    )
    create = UnsignedTransaction(
        type=2, chain_id=31337, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=10**10,
        gas=5_000_000, to=None, data=erc20.bytecode + args,
    )  # fmt: skip
    result = chain.build_block([sign_transaction(create, alice.private_key)], timestamp=1)
    token = result.executed.results[0].contract_address
    assert result.executed.results[0].status == 1 and token is not None
    assert chain.state().code(token) == erc20.bytecode
    (minted,) = result.receipts[0].logs  # Transfer(0, alice, 1000) from the constructor
    assert minted.address == token and minted.data == (1000).to_bytes(32, "big")
