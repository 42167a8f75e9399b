"""Uniswap V2, from the compiled artifacts npm ships, on the EVM backend through JSON-RPC.

The factory and pair come from ``@uniswap/v2-core``'s ``build/``, the router and WETH9 from
``@uniswap/v2-periphery``'s: the exact bytecode mainnet runs (solc 0.5.16 and 0.6.6). Two
OpenZeppelin ERC20s (``contracts/Tokens.sol``) are the traded tokens. Every step is a signed
transaction from web3.py; balances and reserves are checked against Uniswap's own formulas,
computed here independently of the contracts.

``UniswapV2Library.pairFor`` (in the router) computes a pair's address with CREATE2 from a
hard-coded init code hash, ``0x96e8ac42...845f``; the test checks that the npm factory's pair
bytecode hashes to it and that the factory really creates the pair there, which is what makes
every router call find its pair.

Signers: dev accounts 4 (deploys, provides liquidity) and 5 (trades).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from supervm import Artifact
from supervm.chain.dev_accounts import DevAccount
from web3 import Web3
from web3.contract import Contract

from .conftest import NODE_MODULES, Eth, address, events

pytestmark = pytest.mark.slow

V2_CORE = NODE_MODULES / "@uniswap" / "v2-core" / "build"
V2_PERIPHERY = NODE_MODULES / "@uniswap" / "v2-periphery" / "build"
#: The init code hash UniswapV2Library.pairFor hard-codes (v2-periphery 1.1.0-beta.0).
PAIR_INIT_CODE_HASH = bytes.fromhex(
    "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
)
MINIMUM_LIQUIDITY = 1000
E18 = 10**18
SUPPLY = 10**9 * E18


@attrs.frozen
class Npm:
    """One of the npm packages' ``build/*.json`` artifacts (Waffle's format)."""

    abi: list[dict[str, Any]]
    bytecode: bytes


def npm_artifact(path: Path) -> Npm:
    """``abi`` and creation ``bytecode`` (hex, with or without ``0x``) of a Waffle artifact."""
    data = json.loads(path.read_text())
    return Npm(abi=data["abi"], bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")))


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: the 0.3% fee, then x*y=k, rounded down."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def amount_in(amount_out_: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn: what buys exactly ``amount_out_``, rounded up."""
    return reserve_in * amount_out_ * 1000 // ((reserve_out - amount_out_) * 997) + 1


@attrs.frozen
class V2:
    """Uniswap V2 as deployed by dev account 4, with two tokens."""

    factory: Contract
    weth: Contract
    router: Contract
    token_a: Contract
    token_b: Contract
    lp: DevAccount
    trader: DevAccount
    pair_abi: list[dict[str, Any]]


@pytest.fixture(scope="module")
def v2(eth: Eth, sol: Mapping[str, Artifact], accounts: list[DevAccount]) -> V2:
    lp, trader = accounts[4], accounts[5]
    factory_art = npm_artifact(V2_CORE / "UniswapV2Factory.json")
    weth_art = npm_artifact(V2_PERIPHERY / "WETH9.json")
    router_art = npm_artifact(V2_PERIPHERY / "UniswapV2Router02.json")
    factory = eth.deploy(factory_art.abi, factory_art.bytecode, address(lp), sender=lp)
    weth = eth.deploy(weth_art.abi, weth_art.bytecode, sender=lp)
    router = eth.deploy(
        router_art.abi, router_art.bytecode, factory.address, weth.address, sender=lp
    )
    token_a = eth.deploy_artifact(sol["AppToken"], "Token A", "TKA", SUPPLY, sender=lp)
    token_b = eth.deploy_artifact(sol["AppToken"], "Token B", "TKB", SUPPLY, sender=lp)
    for token in (token_a, token_b):
        eth.send(token.functions.transfer(address(trader), SUPPLY // 10), lp)
        for who in (lp, trader):
            eth.send(token.functions.approve(router.address, 2**256 - 1), who)
    pair_abi = npm_artifact(V2_CORE / "UniswapV2Pair.json").abi
    return V2(factory, weth, router, token_a, token_b, lp, trader, pair_abi)


def _deadline(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + 3600


def _sorted(a: str, b: str) -> tuple[str, str]:
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def _create2(factory: str, token0: str, token1: str, init_hash: bytes) -> str:
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    raw = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + init_hash)[12:]
    return to_checksum_address(raw)


def _pair(eth: Eth, v2: V2, a: Contract, b: str) -> Contract:
    """The pair of ``a`` and ``b``, created by the factory if it does not exist yet."""
    existing = v2.factory.functions.getPair(a.address, b).call()
    if int(existing, 16) == 0:
        receipt = eth.send(v2.factory.functions.createPair(a.address, b), v2.lp)
        (created,) = events(v2.factory, "PairCreated", receipt)
        existing = created["pair"]
    return eth.w3.eth.contract(address=existing, abi=v2.pair_abi)


def _reserves(pair: Contract, token: str) -> tuple[int, int]:
    """The pair's reserves as (reserve of ``token``, reserve of the other)."""
    r0, r1, _ = pair.functions.getReserves().call()
    return (r0, r1) if pair.functions.token0().call() == token else (r1, r0)


def test_pair_init_code_hash_matches_the_router_library(eth: Eth, v2: V2) -> None:
    pair_bytecode = npm_artifact(V2_CORE / "UniswapV2Pair.json").bytecode
    assert keccak(pair_bytecode) == PAIR_INIT_CODE_HASH
    # The router (periphery) embeds the same hash in its pairFor...
    router_bytecode = npm_artifact(V2_PERIPHERY / "UniswapV2Router02.json").bytecode
    assert PAIR_INIT_CODE_HASH in router_bytecode
    # ...and the factory's CREATE2 puts the pair exactly where pairFor computes it.
    pair = _pair(eth, v2, v2.token_a, v2.token_b.address)
    token0, token1 = _sorted(v2.token_a.address, v2.token_b.address)
    assert pair.address == _create2(v2.factory.address, token0, token1, PAIR_INIT_CODE_HASH)
    # The code there is the pair's runtime code as npm ships it (it has no immutables).
    runtime = json.loads((V2_CORE / "UniswapV2Pair.json").read_text())["evm"]["deployedBytecode"]
    assert bytes(eth.w3.eth.get_code(pair.address)) == bytes.fromhex(runtime["object"])
    assert pair.functions.factory().call() == v2.factory.address
    assert (pair.functions.token0().call(), pair.functions.token1().call()) == (token0, token1)
    assert v2.factory.functions.allPairsLength().call() >= 1


def test_add_liquidity_swap_both_ways_and_remove(eth: Eth, v2: V2) -> None:
    w3, router = eth.w3, v2.router.functions
    a, b = v2.token_a, v2.token_b
    pair = _pair(eth, v2, a, b.address)
    assert _reserves(pair, a.address) == (0, 0), "this test provides the first liquidity"

    # -- add liquidity: 10,000 A against 40,000 B (price: 1 A = 4 B).
    add_a, add_b = 10_000 * E18, 40_000 * E18
    receipt = eth.send(
        router.addLiquidity(
            a.address, b.address, add_a, add_b, 0, 0, address(v2.lp), _deadline(w3)
        ),
        v2.lp,
    )
    liquidity = math.isqrt(add_a * add_b) - MINIMUM_LIQUIDITY
    assert pair.functions.balanceOf(address(v2.lp)).call() == liquidity
    assert pair.functions.totalSupply().call() == liquidity + MINIMUM_LIQUIDITY
    assert _reserves(pair, a.address) == (add_a, add_b)
    (mint,) = events(pair, "Mint", receipt)
    assert mint["sender"] == v2.router.address
    assert {mint["amount0"], mint["amount1"]} == {add_a, add_b}

    # -- swap exact A for B.
    trader = address(v2.trader)
    sell_a = 100 * E18
    expected_b = amount_out(sell_a, add_a, add_b)
    assert router.getAmountsOut(sell_a, [a.address, b.address]).call() == [sell_a, expected_b]
    before = (a.functions.balanceOf(trader).call(), b.functions.balanceOf(trader).call())
    receipt = eth.send(
        router.swapExactTokensForTokens(
            sell_a, expected_b, [a.address, b.address], trader, _deadline(w3)
        ),
        v2.trader,
    )
    after = (a.functions.balanceOf(trader).call(), b.functions.balanceOf(trader).call())
    assert after == (before[0] - sell_a, before[1] + expected_b)
    (swap,) = events(pair, "Swap", receipt)
    assert swap["to"] == trader and swap["sender"] == v2.router.address
    reserve_a, reserve_b = add_a + sell_a, add_b - expected_b
    assert _reserves(pair, a.address) == (reserve_a, reserve_b)
    (sync,) = events(pair, "Sync", receipt)
    assert {sync["reserve0"], sync["reserve1"]} == {reserve_a, reserve_b}

    # -- swap B for exactly 50 A (the other direction, exact output).
    want_a = 50 * E18
    cost_b = amount_in(want_a, reserve_b, reserve_a)
    assert router.getAmountsIn(want_a, [b.address, a.address]).call() == [cost_b, want_a]
    eth.send(
        router.swapTokensForExactTokens(
            want_a, cost_b, [b.address, a.address], trader, _deadline(w3)
        ),
        v2.trader,
    )
    assert a.functions.balanceOf(trader).call() == after[0] + want_a
    assert b.functions.balanceOf(trader).call() == after[1] - cost_b
    reserve_a, reserve_b = reserve_a - want_a, reserve_b + cost_b
    assert _reserves(pair, a.address) == (reserve_a, reserve_b)
    # k never decreases (the fee stays in the pool).
    assert reserve_a * reserve_b >= add_a * add_b

    # -- a slippage limit the pool cannot meet: the router's Error(string) reason.
    too_greedy = router.swapExactTokensForTokens(
        sell_a, amount_out(sell_a, reserve_a, reserve_b) + 1, [a.address, b.address], trader,
        _deadline(w3),
    )  # fmt: skip
    revert = eth.revert(too_greedy, v2.trader)
    assert (revert.name, revert.args) == ("Error", ("UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",))

    # -- remove all the LP's liquidity: it gets its share of both reserves back.
    eth.send(pair.functions.approve(v2.router.address, liquidity), v2.lp)
    lp = address(v2.lp)
    held = (a.functions.balanceOf(lp).call(), b.functions.balanceOf(lp).call())
    total = pair.functions.totalSupply().call()
    share_a, share_b = liquidity * reserve_a // total, liquidity * reserve_b // total
    receipt = eth.send(
        router.removeLiquidity(a.address, b.address, liquidity, 0, 0, lp, _deadline(w3)), v2.lp
    )
    (burn,) = events(pair, "Burn", receipt)
    assert {burn["amount0"], burn["amount1"]} == {share_a, share_b}
    assert a.functions.balanceOf(lp).call() == held[0] + share_a
    assert b.functions.balanceOf(lp).call() == held[1] + share_b
    assert pair.functions.balanceOf(lp).call() == 0
    assert _reserves(pair, a.address) == (reserve_a - share_a, reserve_b - share_b)


def test_eth_pair_through_weth(eth: Eth, v2: V2) -> None:
    """addLiquidityETH, ETH -> token, token -> ETH, removeLiquidityETH: WETH9 wraps and unwraps."""
    w3, router = eth.w3, v2.router.functions
    a, weth = v2.token_a, v2.weth
    lp, trader = address(v2.lp), address(v2.trader)
    add_a, add_eth = 2_000 * E18, 10 * E18
    receipt = eth.send(
        router.addLiquidityETH(a.address, add_a, 0, 0, lp, _deadline(w3)), v2.lp, value=add_eth
    )
    pair = _pair(eth, v2, a, weth.address)
    assert _reserves(pair, a.address) == (add_a, add_eth)
    assert weth.functions.balanceOf(pair.address).call() == add_eth
    assert events(weth, "Deposit", receipt) == [{"dst": v2.router.address, "wad": add_eth}]

    # ETH in, tokens out.
    pay = E18
    got_a = amount_out(pay, add_eth, add_a)
    before_a, before_eth = a.functions.balanceOf(trader).call(), eth.balance(trader)
    receipt = eth.send(
        router.swapExactETHForTokens(got_a, [weth.address, a.address], trader, _deadline(w3)),
        v2.trader,
        value=pay,
    )
    assert a.functions.balanceOf(trader).call() == before_a + got_a
    assert eth.balance(trader) == before_eth - pay - eth.fee(receipt)
    reserve_a, reserve_eth = add_a - got_a, add_eth + pay

    # Tokens in, ETH out (the router unwraps WETH and sends ETH to an account).
    sell = 100 * E18
    got_eth = amount_out(sell, reserve_a, reserve_eth)
    before_eth = eth.balance(trader)
    receipt = eth.send(
        router.swapExactTokensForETH(sell, got_eth, [a.address, weth.address], trader,
                                     _deadline(w3)),
        v2.trader,
    )  # fmt: skip
    assert eth.balance(trader) == before_eth + got_eth - eth.fee(receipt)
    assert events(weth, "Withdrawal", receipt) == [{"src": v2.router.address, "wad": got_eth}]
    reserve_a, reserve_eth = reserve_a + sell, reserve_eth - got_eth
    assert _reserves(pair, a.address) == (reserve_a, reserve_eth)

    # Remove it all, as ETH.
    liquidity = pair.functions.balanceOf(lp).call()
    eth.send(pair.functions.approve(v2.router.address, liquidity), v2.lp)
    total = pair.functions.totalSupply().call()
    share_a, share_eth = liquidity * reserve_a // total, liquidity * reserve_eth // total
    before_a, before_eth = a.functions.balanceOf(lp).call(), eth.balance(lp)
    receipt = eth.send(
        router.removeLiquidityETH(a.address, liquidity, 0, 0, lp, _deadline(w3)), v2.lp
    )
    assert a.functions.balanceOf(lp).call() == before_a + share_a
    assert eth.balance(lp) == before_eth + share_eth - eth.fee(receipt)
    assert eth.balance(v2.router.address) == 0
