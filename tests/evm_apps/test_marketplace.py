"""An NFT marketplace in Solidity: list, buy with ETH, ERC2981 royalty paid, token moved safely.

``contracts/Marketplace.sol`` sells ``AppNFT`` tokens (OpenZeppelin ERC721 + ERC2981) at a fixed
price: on ``buy`` it pays the royalty to the receiver ``royaltyInfo`` names and the rest to the
seller, and moves the token with ``safeTransferFrom``. Every ETH balance is checked to the wei,
gas fees included.
Signers: dev accounts 6 (the creator: deploys, mints, receives royalties), 7 (the seller) and
8 (the buyer).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pytest
from supervm import Artifact
from supervm.chain.dev_accounts import DevAccount
from web3.contract import Contract

from .conftest import Eth, address, events

pytestmark = pytest.mark.slow

ROYALTY_BPS = 750
PRICE = 10**18


@attrs.frozen
class Market:
    nft: Contract
    market: Contract
    creator: DevAccount
    seller: DevAccount
    buyer: DevAccount


@pytest.fixture(scope="module")
def market(eth: Eth, sol: Mapping[str, Artifact], accounts: list[DevAccount]) -> Market:
    creator, seller, buyer = accounts[6], accounts[7], accounts[8]
    nft = eth.deploy_artifact(
        sol["AppNFT"], "Market NFT", "MNFT", address(creator), ROYALTY_BPS, sender=creator
    )
    contract = eth.deploy_artifact(sol["Marketplace"], sender=creator)
    return Market(nft, contract, creator, seller, buyer)


def _minted_to_seller(eth: Eth, m: Market) -> int:
    receipt = eth.send(m.nft.functions.mint(address(m.seller)), m.creator)
    (minted,) = events(m.nft, "Transfer", receipt)
    token_id: int = minted["tokenId"]
    return token_id


def test_list_buy_pays_royalty_and_seller(eth: Eth, market: Market) -> None:
    m, nft, shop = market, market.nft.functions, market.market.functions
    seller, buyer, creator = address(m.seller), address(m.buyer), address(m.creator)
    token_id = _minted_to_seller(eth, m)
    eth.send(nft.approve(m.market.address, token_id), m.seller)
    receipt = eth.send(shop.list(m.nft.address, token_id, PRICE), m.seller)
    assert events(m.market, "Listed", receipt) == [
        {"nft": m.nft.address, "tokenId": token_id, "seller": seller, "price": PRICE}
    ]
    assert shop.listings(m.nft.address, token_id).call() == [seller, PRICE]
    royalty = PRICE * ROYALTY_BPS // 10_000
    assert shop.royaltyOf(m.nft.address, token_id, PRICE).call() == [creator, royalty]

    before = {who: eth.balance(who) for who in (seller, buyer, creator)}
    receipt = eth.send(shop.buy(m.nft.address, token_id), m.buyer, value=PRICE)
    assert events(m.market, "Sold", receipt) == [
        {"nft": m.nft.address, "tokenId": token_id, "buyer": buyer, "seller": seller,
         "price": PRICE, "royaltyReceiver": creator, "royalty": royalty}
    ]  # fmt: skip
    assert events(m.nft, "Transfer", receipt) == [
        {"from": seller, "to": buyer, "tokenId": token_id}
    ]
    assert nft.ownerOf(token_id).call() == buyer
    assert eth.balance(buyer) == before[buyer] - PRICE - eth.fee(receipt)
    assert eth.balance(seller) == before[seller] + PRICE - royalty
    assert eth.balance(creator) == before[creator] + royalty
    assert eth.balance(m.market.address) == 0
    assert shop.listings(m.nft.address, token_id).call()[0] == "0x" + "00" * 20
    # Sold: it cannot be bought twice.
    revert = eth.revert(shop.buy(m.nft.address, token_id), m.buyer, value=PRICE)
    assert (revert.name, revert.args) == ("NotListed", (m.nft.address, token_id))


def test_listing_rules_and_cancel(eth: Eth, market: Market) -> None:
    m, nft, shop = market, market.nft.functions, market.market.functions
    seller, buyer = address(m.seller), address(m.buyer)
    token_id = _minted_to_seller(eth, m)
    revert = eth.revert(shop.list(m.nft.address, token_id, PRICE), m.seller)
    assert (revert.name, revert.args) == ("NotApproved", (m.nft.address, token_id))
    eth.send(nft.setApprovalForAll(m.market.address, True), m.seller)
    revert = eth.revert(shop.list(m.nft.address, token_id, PRICE), m.buyer)
    assert (revert.name, revert.args) == ("NotTokenOwner", (buyer, seller))
    revert = eth.revert(shop.list(m.nft.address, token_id, 0), m.seller)
    assert (revert.name, revert.args) == ("ZeroPrice", ())
    eth.send(shop.list(m.nft.address, token_id, PRICE), m.seller)
    revert = eth.revert(shop.buy(m.nft.address, token_id), m.buyer, value=PRICE - 1)
    assert (revert.name, revert.args) == ("WrongPrice", (PRICE, PRICE - 1))
    revert = eth.revert(shop.cancel(m.nft.address, token_id), m.buyer)
    assert (revert.name, revert.args) == ("NotTokenOwner", (buyer, seller))
    receipt = eth.send(shop.cancel(m.nft.address, token_id), m.seller)
    assert events(m.market, "Cancelled", receipt) == [{"nft": m.nft.address, "tokenId": token_id}]
    revert = eth.revert(shop.buy(m.nft.address, token_id), m.buyer, value=PRICE)
    assert (revert.name, revert.args) == ("NotListed", (m.nft.address, token_id))
    assert nft.ownerOf(token_id).call() == seller
    eth.send(nft.setApprovalForAll(m.market.address, False), m.seller)
