"""The NFT marketplace flow with the marketplace in AssemblyScript (WASM) and the tokens in
Solidity (EVM): cross-VM calls, WASM -> EVM, through JSON-RPC.

``marketplace-as/`` (compiled by the AssemblyScript plugin) calls the OpenZeppelin ERC721 for
ownership and approvals and to move the token (``safeTransferFrom``), its ERC2981
``royaltyInfo`` for the royalty, and an OpenZeppelin ERC20 it is paid in (``transferFrom``):
each a call from a WASM contract into EVM code. The tests check balances to the unit, that the
EVM contracts' events land in the WASM transaction's receipt in order, that an EVM revert
reaches the caller with its custom error, and that a failed purchase undoes everything.
Signers: dev accounts 6 (the creator: deploys, mints, receives royalties), 7 (the seller) and
8 (the buyer).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from supervm import Artifact
from supervm.chain.dev_accounts import DevAccount
from web3.contract import Contract

from .conftest import HERE, Eth, address, events

pytestmark = pytest.mark.slow

PROJECT = HERE / "marketplace-as"
ROYALTY_BPS = 750
PRICE = 5_000 * 10**18
ZERO = "0x" + "00" * 20


@attrs.frozen
class CrossMarket:
    nft: Contract
    coin: Contract
    market: Contract
    eth: Eth
    creator: DevAccount
    seller: DevAccount
    buyer: DevAccount


def _compile_marketplace(out: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("supervm")), "compile", str(PROJECT), "--out", out],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    artifact: dict[str, Any] = json.loads((out / "Marketplace.json").read_text())
    assert artifact["kind"] == "wasm" and artifact["bytecode"].startswith("0x0061736d")
    return artifact


@pytest.fixture(scope="module")
def cross(
    eth: Eth,
    sol: Mapping[str, Artifact],
    accounts: list[DevAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> CrossMarket:
    creator, seller, buyer = accounts[6], accounts[7], accounts[8]
    wasm = _compile_marketplace(tmp_path_factory.mktemp("marketplace-as"))
    nft = eth.deploy_artifact(
        sol["AppNFT"], "Cross NFT", "XNFT", address(creator), ROYALTY_BPS, sender=creator
    )
    coin = eth.deploy_artifact(
        sol["AppToken"], "Market Coin", "MKC", 10**9 * 10**18, sender=creator
    )
    eth.send(coin.functions.transfer(address(buyer), 100 * PRICE), creator)
    market = eth.deploy(wasm["abi"], wasm["bytecode"], coin.address, sender=creator)
    assert bytes(eth.w3.eth.get_code(market.address))[:4] == b"\0asm"
    # The WASM contract's custom errors decode alongside the Solidity ones.
    both = Eth(eth.w3, [*eth.error_abis, wasm["abi"]])
    return CrossMarket(nft, coin, market, both, creator, seller, buyer)


def _mint(c: CrossMarket) -> int:
    receipt = c.eth.send(c.nft.functions.mint(address(c.seller)), c.creator)
    (minted,) = events(c.nft, "Transfer", receipt)
    token_id: int = minted["tokenId"]
    return token_id


def test_list_and_buy_across_vms(cross: CrossMarket) -> None:
    c, eth = cross, cross.eth
    nft, coin, shop = c.nft.functions, c.coin.functions, c.market.functions
    seller, buyer, creator = address(c.seller), address(c.buyer), address(c.creator)
    assert shop.paymentToken().call() == c.coin.address
    token_id = _mint(c)
    eth.send(nft.approve(c.market.address, token_id), c.seller)
    receipt = eth.send(shop.list(c.nft.address, token_id, PRICE), c.seller)
    assert events(c.market, "Listed", receipt) == [
        {"nft": c.nft.address, "tokenId": token_id, "seller": seller, "price": PRICE}
    ]
    assert shop.sellerOf(c.nft.address, token_id).call() == seller
    assert shop.priceOf(c.nft.address, token_id).call() == PRICE

    royalty = PRICE * ROYALTY_BPS // 10_000
    eth.send(coin.approve(c.market.address, PRICE), c.buyer)
    before = {who: coin.balanceOf(who).call() for who in (seller, buyer, creator)}
    receipt = eth.send(shop.buy(c.nft.address, token_id), c.buyer)
    # The EVM contracts' logs are in the WASM transaction's receipt, in call order.
    assert [log["address"] for log in receipt["logs"]] == [
        c.coin.address,  # royalty
        c.coin.address,  # the seller's share
        c.nft.address,  # the token moving (OpenZeppelin 5 clears the approval silently)
        c.market.address,  # Sold
    ]
    assert events(c.coin, "Transfer", receipt) == [
        {"from": buyer, "to": creator, "value": royalty},
        {"from": buyer, "to": seller, "value": PRICE - royalty},
    ]
    assert events(c.nft, "Transfer", receipt) == [
        {"from": seller, "to": buyer, "tokenId": token_id}
    ]
    assert events(c.market, "Sold", receipt) == [
        {"nft": c.nft.address, "tokenId": token_id, "buyer": buyer, "seller": seller,
         "price": PRICE, "royaltyReceiver": creator, "royalty": royalty}
    ]  # fmt: skip
    assert nft.ownerOf(token_id).call() == buyer
    assert coin.balanceOf(buyer).call() == before[buyer] - PRICE
    assert coin.balanceOf(seller).call() == before[seller] + PRICE - royalty
    assert coin.balanceOf(creator).call() == before[creator] + royalty
    assert coin.allowance(buyer, c.market.address).call() == 0
    assert shop.sellerOf(c.nft.address, token_id).call() == ZERO
    revert = eth.revert(shop.buy(c.nft.address, token_id), c.buyer)
    assert (revert.name, revert.args) == ("NotListed", (c.nft.address, token_id))


def test_evm_reverts_reach_the_wasm_caller_and_a_failed_buy_undoes_everything(
    cross: CrossMarket,
) -> None:
    c, eth = cross, cross.eth
    nft, coin, shop = c.nft.functions, c.coin.functions, c.market.functions
    seller, buyer = address(c.seller), address(c.buyer)
    # The ERC721's own custom error, raised in EVM code, comes back through the WASM contract.
    revert = eth.revert(shop.list(c.nft.address, 10**9, PRICE), c.seller)
    assert (revert.name, revert.args) == ("ERC721NonexistentToken", (10**9,))
    token_id = _mint(c)
    revert = eth.revert(shop.list(c.nft.address, token_id, PRICE), c.seller)
    assert (revert.name, revert.args) == ("NotApproved", (c.nft.address, token_id))
    eth.send(nft.setApprovalForAll(c.market.address, True), c.seller)
    revert = eth.revert(shop.list(c.nft.address, token_id, PRICE), c.buyer)
    assert (revert.name, revert.args) == ("NotTokenOwner", (buyer, seller))
    revert = eth.revert(shop.list(c.nft.address, token_id, 0), c.seller)
    assert (revert.name, revert.args) == ("ZeroPrice", ())
    eth.send(shop.list(c.nft.address, token_id, PRICE), c.seller)

    # No allowance for the payment: the ERC20's error reaches the buyer through the WASM call.
    eth.send(coin.approve(c.market.address, 0), c.buyer)
    revert = eth.revert(shop.buy(c.nft.address, token_id), c.buyer)
    assert (revert.name, revert.args) == (
        "ERC20InsufficientAllowance",
        (c.market.address, 0, PRICE * ROYALTY_BPS // 10_000),
    )
    # Mined anyway: status 0, and the listing the WASM contract deleted first is back.
    held = coin.balanceOf(buyer).call()
    receipt = eth.send(shop.buy(c.nft.address, token_id), c.buyer, gas=1_000_000, expect_status=0)
    assert receipt["logs"] == []
    assert shop.sellerOf(c.nft.address, token_id).call() == seller
    assert shop.priceOf(c.nft.address, token_id).call() == PRICE
    assert nft.ownerOf(token_id).call() == seller
    assert coin.balanceOf(buyer).call() == held

    # Enough allowance for the royalty only: the first EVM call succeeds, the second fails,
    # and the royalty already paid is undone with the rest.
    royalty = PRICE * ROYALTY_BPS // 10_000
    eth.send(coin.approve(c.market.address, royalty), c.buyer)
    creator_held = coin.balanceOf(address(c.creator)).call()
    receipt = eth.send(shop.buy(c.nft.address, token_id), c.buyer, gas=1_000_000, expect_status=0)
    assert coin.balanceOf(address(c.creator)).call() == creator_held
    assert coin.allowance(buyer, c.market.address).call() == royalty
    assert shop.sellerOf(c.nft.address, token_id).call() == seller

    receipt = eth.send(shop.cancel(c.nft.address, token_id), c.seller)
    assert events(c.market, "Cancelled", receipt) == [{"nft": c.nft.address, "tokenId": token_id}]
    revert = eth.revert(shop.buy(c.nft.address, token_id), c.buyer)
    assert (revert.name, revert.args) == ("NotListed", (c.nft.address, token_id))
    eth.send(nft.setApprovalForAll(c.market.address, False), c.seller)
