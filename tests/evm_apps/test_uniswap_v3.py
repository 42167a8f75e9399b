"""Uniswap V3, from the compiled artifacts npm ships, on the EVM backend through JSON-RPC.

``@uniswap/v3-core``'s factory creates a 0.3% pool of two OpenZeppelin ERC20s (CREATE2: the
pool's address depends on ``PoolAddress.POOL_INIT_CODE_HASH``, which the periphery hard-codes and
the test checks against the npm pool bytecode), the pool is initialised at price 1, a position is
minted through ``@uniswap/v3-periphery``'s NonfungiblePositionManager (an ERC721), swaps go
through its SwapRouter in both directions, and the position is then closed with
``decreaseLiquidity`` and ``collect``, fees included. The expected swap output is computed here
from Uniswap V3's formulas (one liquidity range, no initialised tick crossed), independently of
the contracts. The position manager is given no token descriptor (``tokenURI`` is not used).

Signers: dev accounts 4 (deploys, provides liquidity) and 5 (trades).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, getcontext
from pathlib import Path
from typing import Any

import attrs
import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from supervm import Artifact
from supervm.chain.dev_accounts import DevAccount
from web3 import Web3
from web3.contract import Contract

from .conftest import NODE_MODULES, Eth, address, events

pytestmark = pytest.mark.slow

V3_CORE = NODE_MODULES / "@uniswap" / "v3-core" / "artifacts" / "contracts"
V3_PERIPHERY = NODE_MODULES / "@uniswap" / "v3-periphery" / "artifacts" / "contracts"
WETH9 = NODE_MODULES / "@uniswap" / "v2-periphery" / "build" / "WETH9.json"
#: PoolAddress.POOL_INIT_CODE_HASH in v3-periphery 1.4.4.
POOL_INIT_CODE_HASH = bytes.fromhex(
    "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
)
FEE = 3000
TICK_SPACING = 60
TICK_LOWER, TICK_UPPER = -6000, 6000
Q96 = 2**96
E18 = 10**18
SUPPLY = 10**9 * E18
MAX_UINT128 = 2**128 - 1


def hardhat_artifact(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    data = json.loads(path.read_text())
    return data["abi"], bytes.fromhex(data["bytecode"].removeprefix("0x"))


def sqrt_price_at(tick: int) -> Decimal:
    """sqrt(1.0001 ** tick) * 2**96, to 60 digits (TickMath's value, without its rounding)."""
    getcontext().prec = 60
    return (Decimal("1.0001") ** tick).sqrt() * Q96


@attrs.frozen
class V3:
    factory: Contract
    pool: Contract
    manager: Contract
    router: Contract
    token0: Contract
    token1: Contract
    lp: DevAccount
    trader: DevAccount


@pytest.fixture(scope="module")
def v3(eth: Eth, sol: Mapping[str, Artifact], accounts: list[DevAccount]) -> V3:
    lp, trader = accounts[4], accounts[5]
    factory_abi, factory_code = hardhat_artifact(
        V3_CORE / "UniswapV3Factory.sol/UniswapV3Factory.json"
    )
    pool_abi, _ = hardhat_artifact(V3_CORE / "UniswapV3Pool.sol/UniswapV3Pool.json")
    npm_abi, npm_code = hardhat_artifact(
        V3_PERIPHERY / "NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    )
    router_abi, router_code = hardhat_artifact(V3_PERIPHERY / "SwapRouter.sol/SwapRouter.json")
    weth = json.loads(WETH9.read_text())
    weth_contract = eth.deploy(weth["abi"], bytes.fromhex(weth["bytecode"]), sender=lp)
    factory = eth.deploy(factory_abi, factory_code, sender=lp)
    no_descriptor = to_checksum_address("0x" + "00" * 20)
    manager = eth.deploy(
        npm_abi, npm_code, factory.address, weth_contract.address, no_descriptor, sender=lp
    )
    router = eth.deploy(router_abi, router_code, factory.address, weth_contract.address, sender=lp)
    tokens = [
        eth.deploy_artifact(sol["AppToken"], f"V3 Token {n}", f"V3{n}", SUPPLY, sender=lp)
        for n in "XY"
    ]
    tokens.sort(key=lambda t: int(t.address, 16))
    for token in tokens:
        eth.send(token.functions.transfer(address(trader), SUPPLY // 10), lp)
        eth.send(token.functions.approve(manager.address, 2**256 - 1), lp)
        eth.send(token.functions.approve(router.address, 2**256 - 1), trader)
    token0, token1 = tokens

    receipt = eth.send(factory.functions.createPool(token0.address, token1.address, FEE), lp)
    (created,) = events(factory, "PoolCreated", receipt)
    assert (created["token0"], created["token1"], created["fee"]) == (
        token0.address, token1.address, FEE
    )  # fmt: skip
    assert created["tickSpacing"] == TICK_SPACING
    pool = eth.w3.eth.contract(address=created["pool"], abi=pool_abi)
    return V3(factory, pool, manager, router, token0, token1, lp, trader)


def _deadline(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + 3600


def test_pool_address_is_the_periphery_create2_address(v3: V3) -> None:
    _, pool_code = hardhat_artifact(V3_CORE / "UniswapV3Pool.sol/UniswapV3Pool.json")
    assert keccak(pool_code) == POOL_INIT_CODE_HASH
    _, npm_code = hardhat_artifact(
        V3_PERIPHERY / "NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    )
    assert POOL_INIT_CODE_HASH in npm_code
    salt = keccak(abi_encode(["address", "address", "uint24"],
                             [v3.token0.address, v3.token1.address, FEE]))  # fmt: skip
    raw = keccak(b"\xff" + bytes.fromhex(v3.factory.address[2:]) + salt + POOL_INIT_CODE_HASH)
    assert v3.pool.address == to_checksum_address(raw[12:])
    assert v3.factory.functions.getPool(v3.token1.address, v3.token0.address, FEE).call() == (
        v3.pool.address
    )
    assert v3.pool.functions.factory().call() == v3.factory.address
    assert v3.pool.functions.fee().call() == FEE


def test_initialise_mint_swap_both_ways_and_collect(eth: Eth, v3: V3) -> None:
    w3, pool = eth.w3, v3.pool.functions
    t0, t1 = v3.token0, v3.token1
    lp, trader = address(v3.lp), address(v3.trader)

    # -- initialise at price 1 (tick 0).
    receipt = eth.send(pool.initialize(Q96), v3.lp)
    assert events(v3.pool, "Initialize", receipt) == [{"sqrtPriceX96": Q96, "tick": 0}]
    slot0 = pool.slot0().call()
    assert (slot0[0], slot0[1], slot0[6]) == (Q96, 0, True)

    # -- a position on [-6000, 6000] through the NonfungiblePositionManager.
    desired = 1_000 * E18
    mint = v3.manager.functions.mint(
        (t0.address, t1.address, FEE, TICK_LOWER, TICK_UPPER, desired, desired, 0, 0, lp,
         _deadline(w3))
    )  # fmt: skip
    before = (t0.functions.balanceOf(lp).call(), t1.functions.balanceOf(lp).call())
    receipt = eth.send(mint, v3.lp)
    (increase,) = events(v3.manager, "IncreaseLiquidity", receipt)
    token_id, liquidity = increase["tokenId"], increase["liquidity"]
    used0, used1 = increase["amount0"], increase["amount1"]
    (nft_transfer,) = events(v3.manager, "Transfer", receipt)
    assert nft_transfer == {"from": "0x" + "00" * 20, "to": lp, "tokenId": token_id}
    assert v3.manager.functions.ownerOf(token_id).call() == lp
    # A symmetric range at price 1 takes equal amounts; the liquidity is what they buy.
    sqrt_a, sqrt_b = sqrt_price_at(TICK_LOWER), sqrt_price_at(TICK_UPPER)
    expected_l = Decimal(desired) * Q96 / (Q96 - sqrt_a)
    assert abs(Decimal(liquidity) - expected_l) / expected_l < Decimal("1e-15")
    assert desired - 2 <= used0 <= desired and desired - 2 <= used1 <= desired
    assert (t0.functions.balanceOf(lp).call(), t1.functions.balanceOf(lp).call()) == (
        before[0] - used0, before[1] - used1
    )  # fmt: skip
    assert t0.functions.balanceOf(v3.pool.address).call() == used0
    assert t1.functions.balanceOf(v3.pool.address).call() == used1
    assert pool.liquidity().call() == liquidity
    position = v3.manager.functions.positions(token_id).call()
    assert position[2:8] == [t0.address, t1.address, FEE, TICK_LOWER, TICK_UPPER, liquidity]
    assert sqrt_b > Q96 > sqrt_a

    # -- swap 10 token0 -> token1 through the SwapRouter: exact V3 step math.
    amount_in = 10 * E18
    less_fee = amount_in * (10**6 - FEE) // 10**6
    numerator = liquidity * Q96
    sqrt_next = -(-numerator * Q96 // (numerator + less_fee * Q96))  # rounded up
    expected_out = liquidity * (Q96 - sqrt_next) // Q96
    swap = v3.router.functions.exactInputSingle(
        (t0.address, t1.address, FEE, trader, _deadline(w3), amount_in, expected_out, 0)
    )
    assert swap.call({"from": trader}) == expected_out
    before = (t0.functions.balanceOf(trader).call(), t1.functions.balanceOf(trader).call())
    receipt = eth.send(swap, v3.trader)
    (swapped,) = events(v3.pool, "Swap", receipt)
    assert (swapped["amount0"], swapped["amount1"]) == (amount_in, -expected_out)
    assert (swapped["sqrtPriceX96"], swapped["liquidity"]) == (sqrt_next, liquidity)
    assert (t0.functions.balanceOf(trader).call(), t1.functions.balanceOf(trader).call()) == (
        before[0] - amount_in, before[1] + expected_out
    )  # fmt: skip
    slot0 = pool.slot0().call()
    assert slot0[0] == sqrt_next and -200 < slot0[1] < 0

    # -- and back: 5 token1 -> token0 (the pool crosses uninitialised word boundaries, so each
    # step rounds on its own: the expected output is checked to within a few wei).
    amount_back = 5 * E18
    less_fee = amount_back * (10**6 - FEE) // 10**6
    sqrt_after = sqrt_next + less_fee * Q96 // liquidity
    approx_out = liquidity * Q96 * (sqrt_after - sqrt_next) // sqrt_after // sqrt_next
    swap_back = v3.router.functions.exactInputSingle(
        (t1.address, t0.address, FEE, trader, _deadline(w3), amount_back, 0, 0)
    )
    before = (t0.functions.balanceOf(trader).call(), t1.functions.balanceOf(trader).call())
    receipt = eth.send(swap_back, v3.trader)
    (swapped,) = events(v3.pool, "Swap", receipt)
    got = -swapped["amount0"]
    assert swapped["amount1"] == amount_back
    assert abs(got - approx_out) <= 10, (got, approx_out)
    assert (t0.functions.balanceOf(trader).call(), t1.functions.balanceOf(trader).call()) == (
        before[0] + got, before[1] - amount_back
    )  # fmt: skip

    # -- slippage limit not met: the router reverts with the periphery's reason.
    greedy = v3.router.functions.exactInputSingle(
        (t0.address, t1.address, FEE, trader, _deadline(w3), amount_in, 10 * E18, 0)
    )
    revert = eth.revert(greedy, v3.trader)
    assert (revert.name, revert.args) == ("Error", ("Too little received",))

    # -- close the position: all liquidity out, then collect principal and fees.
    pool_balances = (
        t0.functions.balanceOf(v3.pool.address).call(),
        t1.functions.balanceOf(v3.pool.address).call(),
    )
    receipt = eth.send(
        v3.manager.functions.decreaseLiquidity((token_id, liquidity, 0, 0, _deadline(w3))), v3.lp
    )
    (decrease,) = events(v3.manager, "DecreaseLiquidity", receipt)
    assert decrease["liquidity"] == liquidity
    assert pool.liquidity().call() == 0
    before = (t0.functions.balanceOf(lp).call(), t1.functions.balanceOf(lp).call())
    receipt = eth.send(
        v3.manager.functions.collect((token_id, lp, MAX_UINT128, MAX_UINT128)), v3.lp
    )
    (collected,) = events(v3.manager, "Collect", receipt)
    got0, got1 = collected["amount0"], collected["amount1"]
    # Principal plus the 0.3% fee of each swap's input (less rounding), all but dust.
    fee0, fee1 = amount_in * FEE // 10**6, amount_back * FEE // 10**6
    assert abs(got0 - decrease["amount0"] - fee0) <= 5
    assert abs(got1 - decrease["amount1"] - fee1) <= 5
    assert (t0.functions.balanceOf(lp).call(), t1.functions.balanceOf(lp).call()) == (
        before[0] + got0, before[1] + got1
    )  # fmt: skip
    left = (
        t0.functions.balanceOf(v3.pool.address).call(),
        t1.functions.balanceOf(v3.pool.address).call(),
    )
    assert left == (pool_balances[0] - got0, pool_balances[1] - got1)
    assert max(left) <= 10, "only rounding dust stays in the pool"
