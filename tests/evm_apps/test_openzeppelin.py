"""OpenZeppelin ERC20, ERC721 and ERC1155 on the EVM backend, from web3.py over JSON-RPC.

The contracts (``contracts/Tokens.sol``) are thin subclasses of ``@openzeppelin/contracts`` 5,
compiled by SuperVM's Solidity plugin. Everything goes through web3.py's public API: contract
objects, ``build_transaction`` (so gas comes from ``eth_estimateGas``), local signing,
``eth_sendRawTransaction``, receipts decoded with the ABI's events, ``eth_getLogs``, and reverts
decoded from the custom-error data ``eth_call`` and ``eth_estimateGas`` return.
Signers: dev accounts 1 (the deployer and owner), 2 and 3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from eth_utils.address import to_checksum_address
from supervm import Artifact
from supervm.chain.dev_accounts import DevAccount
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from .conftest import Eth, Revert, address, decode_revert, events, revert_data

pytestmark = pytest.mark.slow

SUPPLY = 1_000_000 * 10**18
ROYALTY_BPS = 500
ZERO = to_checksum_address("0x" + "00" * 20)
#: ERC-165 interface ids.
IERC721_ID = bytes.fromhex("80ac58cd")
IERC2981_ID = bytes.fromhex("2a55205a")
IERC1155_ID = bytes.fromhex("d9b67a26")
IERC1155_RECEIVER_ID = bytes.fromhex("4e2312e0")


@attrs.frozen
class Deployed:
    """This module's contracts, deployed once by dev account 1."""

    token: Contract
    nft: Contract
    multi: Contract
    vault: Contract
    stranger: Contract
    owner: DevAccount
    alice: DevAccount
    bob: DevAccount


@pytest.fixture(scope="module")
def oz(eth: Eth, sol: Mapping[str, Artifact], accounts: list[DevAccount]) -> Deployed:
    owner, alice, bob = accounts[1], accounts[2], accounts[3]
    return Deployed(
        token=eth.deploy_artifact(sol["AppToken"], "App Token", "APP", SUPPLY, sender=owner),
        nft=eth.deploy_artifact(
            sol["AppNFT"], "App NFT", "ANFT", address(owner), ROYALTY_BPS, sender=owner
        ),
        multi=eth.deploy_artifact(sol["AppMulti"], sender=owner),
        vault=eth.deploy_artifact(sol["TokenVault"], sender=owner),
        stranger=eth.deploy_artifact(sol["NotAReceiver"], sender=owner),
        owner=owner,
        alice=alice,
        bob=bob,
    )


# -- ERC20 -------------------------------------------------------------------------------------


def test_erc20_metadata_and_supply(oz: Deployed) -> None:
    token = oz.token.functions
    assert token.name().call() == "App Token"
    assert token.symbol().call() == "APP"
    assert token.decimals().call() == 18
    assert token.totalSupply().call() >= SUPPLY
    assert token.owner().call() == address(oz.owner)


def test_erc20_transfer_emits_and_moves(eth: Eth, oz: Deployed) -> None:
    token = oz.token.functions
    before_owner = token.balanceOf(address(oz.owner)).call()
    before_alice = token.balanceOf(address(oz.alice)).call()
    receipt = eth.send(token.transfer(address(oz.alice), 1234), oz.owner)
    assert events(oz.token, "Transfer", receipt) == [
        {"from": address(oz.owner), "to": address(oz.alice), "value": 1234}
    ]
    assert receipt["gasUsed"] > 21_000
    assert token.balanceOf(address(oz.owner)).call() == before_owner - 1234
    assert token.balanceOf(address(oz.alice)).call() == before_alice + 1234
    # The same log through eth_getLogs, filtered by the event's topic and the sender's topic.
    logs = oz.token.events.Transfer().get_logs(
        from_block=receipt["blockNumber"],
        to_block=receipt["blockNumber"],
        argument_filters={"from": address(oz.owner)},
    )
    assert [(log["transactionHash"], log["args"]["value"]) for log in logs] == [
        (receipt["transactionHash"], 1234)
    ]


def test_erc20_approve_and_transfer_from(eth: Eth, oz: Deployed) -> None:
    token = oz.token.functions
    receipt = eth.send(token.approve(address(oz.alice), 500), oz.owner)
    assert events(oz.token, "Approval", receipt) == [
        {"owner": address(oz.owner), "spender": address(oz.alice), "value": 500}
    ]
    assert token.allowance(address(oz.owner), address(oz.alice)).call() == 500
    before_bob = token.balanceOf(address(oz.bob)).call()
    eth.send(token.transferFrom(address(oz.owner), address(oz.bob), 300), oz.alice)
    assert token.allowance(address(oz.owner), address(oz.alice)).call() == 200
    assert token.balanceOf(address(oz.bob)).call() == before_bob + 300

    revert = eth.revert(token.transferFrom(address(oz.owner), address(oz.bob), 201), oz.alice)
    assert (revert.name, revert.args) == (
        "ERC20InsufficientAllowance",
        (address(oz.alice), 200, 201),
    )


def test_erc20_reverts_carry_custom_errors(eth: Eth, oz: Deployed) -> None:
    token = oz.token.functions
    held = token.balanceOf(address(oz.bob)).call()
    too_much = token.transfer(address(oz.alice), held + 1)
    expected = ("ERC20InsufficientBalance", (address(oz.bob), held, held + 1))
    revert = eth.revert(too_much, oz.bob)
    assert (revert.name, revert.args) == expected
    # A wallet learns the same from eth_estimateGas before it signs anything.
    revert = eth.estimate_revert(too_much, oz.bob)
    assert (revert.name, revert.args) == expected
    revert = eth.revert(token.mint(address(oz.bob), 1), oz.bob)
    assert (revert.name, revert.args) == ("OwnableUnauthorizedAccount", (address(oz.bob),))
    revert = eth.revert(token.transfer(ZERO, 1), oz.owner)
    assert (revert.name, revert.args) == ("ERC20InvalidReceiver", (ZERO,))


def test_erc20_failed_transaction_is_mined_with_status_0(eth: Eth, oz: Deployed) -> None:
    """Sent anyway (a fixed gas limit skips the estimate): mined, status 0, only gas paid."""
    token = oz.token.functions
    held = token.balanceOf(address(oz.bob)).call()
    eth_before = eth.balance(address(oz.bob))
    receipt = eth.send(
        token.transfer(address(oz.alice), held + 1), oz.bob, gas=100_000, expect_status=0
    )
    assert receipt["logs"] == []
    assert 21_000 < receipt["gasUsed"] < 100_000
    assert token.balanceOf(address(oz.bob)).call() == held
    assert eth.balance(address(oz.bob)) == eth_before - eth.fee(receipt)
    # Replaying it with eth_call at its block's parent gives the reason, as debuggers do.
    block = receipt["blockNumber"]
    revert_data = _replay(eth, token.transfer(address(oz.alice), held + 1), oz.bob, block - 1)
    assert revert_data.name == "ERC20InsufficientBalance"


def _replay(eth: Eth, call: Any, sender: DevAccount, block: int) -> Revert:
    try:
        call.call({"from": address(sender)}, block_identifier=block)
    except ContractLogicError as exc:
        return decode_revert(revert_data(exc), eth.error_abis)
    raise AssertionError("the replay did not revert")


# -- ERC721 ------------------------------------------------------------------------------------


def _mint_nft(eth: Eth, oz: Deployed, to: str) -> int:
    receipt = eth.send(oz.nft.functions.mint(to), oz.owner)
    (event,) = events(oz.nft, "Transfer", receipt)
    assert event["from"] == ZERO and event["to"] == to
    token_id: int = event["tokenId"]
    return token_id


def test_erc721_mint_metadata_and_interfaces(eth: Eth, oz: Deployed) -> None:
    nft = oz.nft.functions
    token_id = _mint_nft(eth, oz, address(oz.alice))
    assert nft.ownerOf(token_id).call() == address(oz.alice)
    assert nft.balanceOf(address(oz.alice)).call() >= 1
    assert nft.tokenURI(token_id).call() == f"ipfs://app-nft/{token_id}"
    assert nft.name().call() == "App NFT"
    assert nft.supportsInterface(IERC721_ID).call() is True
    assert nft.supportsInterface(IERC2981_ID).call() is True
    assert nft.supportsInterface(IERC1155_ID).call() is False
    assert nft.royaltyInfo(token_id, 10_000).call() == [address(oz.owner), ROYALTY_BPS]
    revert = eth.revert(nft.ownerOf(10**9), oz.alice)
    assert (revert.name, revert.args) == ("ERC721NonexistentToken", (10**9,))


def test_erc721_safe_transfer_to_a_receiver_contract_and_back_out(eth: Eth, oz: Deployed) -> None:
    nft = oz.nft.functions
    vault = oz.vault.address
    token_id = _mint_nft(eth, oz, address(oz.alice))
    safe_with_data = nft.safeTransferFrom(address(oz.alice), vault, token_id, b"\x12\x34")
    receipt = eth.send(safe_with_data, oz.alice)
    assert events(oz.nft, "Transfer", receipt) == [
        {"from": address(oz.alice), "to": vault, "tokenId": token_id}
    ]
    # The receiver hook ran inside the transfer, with the caller's data.
    assert events(oz.vault, "Received721", receipt) == [
        {"operator": address(oz.alice), "from": address(oz.alice), "tokenId": token_id,
         "data": b"\x12\x34"}
    ]  # fmt: skip
    assert nft.ownerOf(token_id).call() == vault
    # The contract sends it on: a contract-initiated safe transfer to an account without code.
    send_on = oz.vault.functions.sendNFT(oz.nft.address, address(oz.bob), token_id)
    receipt = eth.send(send_on, oz.bob)
    assert events(oz.nft, "Transfer", receipt) == [
        {"from": vault, "to": address(oz.bob), "tokenId": token_id}
    ]
    assert nft.ownerOf(token_id).call() == address(oz.bob)
    # Minting straight into the vault goes through the same hook (_safeMint).
    minted = _mint_nft(eth, oz, vault)
    assert nft.ownerOf(minted).call() == vault


def test_erc721_reverts(eth: Eth, oz: Deployed) -> None:
    nft = oz.nft.functions
    token_id = _mint_nft(eth, oz, address(oz.alice))
    stranger = oz.stranger.address
    # A contract without onERC721Received: the safe transfer reverts with the receiver named.
    revert = eth.revert(nft.safeTransferFrom(address(oz.alice), stranger, token_id), oz.alice)
    assert (revert.name, revert.args) == ("ERC721InvalidReceiver", (stranger,))
    revert = eth.revert(nft.mint(stranger), oz.owner)
    assert (revert.name, revert.args) == ("ERC721InvalidReceiver", (stranger,))
    # Not the owner's nor approved.
    move = nft.transferFrom(address(oz.alice), address(oz.bob), token_id)
    revert = eth.revert(move, oz.bob)
    assert (revert.name, revert.args) == ("ERC721InsufficientApproval", (address(oz.bob), token_id))
    # Once approved, the same call goes through; the approval is then cleared.
    receipt = eth.send(nft.approve(address(oz.bob), token_id), oz.alice)
    assert events(oz.nft, "Approval", receipt) == [
        {"owner": address(oz.alice), "approved": address(oz.bob), "tokenId": token_id}
    ]
    eth.send(move, oz.bob)
    assert nft.ownerOf(token_id).call() == address(oz.bob)
    assert nft.getApproved(token_id).call() == ZERO


# -- ERC1155 -----------------------------------------------------------------------------------


def test_erc1155_mint_batch_and_balances(eth: Eth, oz: Deployed) -> None:
    multi = oz.multi.functions
    who = address(oz.alice)
    before = multi.balanceOfBatch([who, who, who], [1, 2, 3]).call()
    receipt = eth.send(multi.mint(who, 1, 100, b""), oz.owner)
    assert events(oz.multi, "TransferSingle", receipt) == [
        {"operator": address(oz.owner), "from": ZERO, "to": who, "id": 1, "value": 100}
    ]
    receipt = eth.send(multi.mintBatch(who, [2, 3], [10, 20], b""), oz.owner)
    assert events(oz.multi, "TransferBatch", receipt) == [
        {"operator": address(oz.owner), "from": ZERO, "to": who, "ids": [2, 3], "values": [10, 20]}
    ]
    after = multi.balanceOfBatch([who, who, who], [1, 2, 3]).call()
    assert [a - b for a, b in zip(after, before, strict=True)] == [100, 10, 20]
    assert multi.uri(7).call() == "ipfs://app-multi/{id}.json"
    assert multi.supportsInterface(IERC1155_ID).call() is True


def test_erc1155_safe_transfers_to_a_receiver_contract(eth: Eth, oz: Deployed) -> None:
    multi = oz.multi.functions
    who, vault = address(oz.alice), oz.vault.address
    eth.send(multi.mintBatch(who, [11, 12], [50, 60], b""), oz.owner)
    receipt = eth.send(multi.safeTransferFrom(who, vault, 11, 40, b"hi"), oz.alice)
    assert events(oz.multi, "TransferSingle", receipt) == [
        {"operator": who, "from": who, "to": vault, "id": 11, "value": 40}
    ]
    eth.send(multi.safeBatchTransferFrom(who, vault, [11, 12], [10, 60], b""), oz.alice)
    assert multi.balanceOfBatch([vault, vault, who, who], [11, 12, 11, 12]).call() == [
        50, 60, 0, 0
    ]  # fmt: skip
    assert oz.vault.functions.supportsInterface(IERC1155_RECEIVER_ID).call() is True
    # The vault sends some on to an account.
    before = multi.balanceOf(address(oz.bob), 12).call()
    eth.send(oz.vault.functions.sendMulti(oz.multi.address, address(oz.bob), 12, 25), oz.bob)
    assert multi.balanceOf(address(oz.bob), 12).call() == before + 25
    assert multi.balanceOf(vault, 12).call() == 35


def test_erc1155_operators_and_reverts(eth: Eth, oz: Deployed) -> None:
    multi = oz.multi.functions
    alice, bob, stranger = address(oz.alice), address(oz.bob), oz.stranger.address
    eth.send(multi.mint(alice, 21, 5, b""), oz.owner)
    revert = eth.revert(multi.safeTransferFrom(alice, stranger, 21, 1, b""), oz.alice)
    assert (revert.name, revert.args) == ("ERC1155InvalidReceiver", (stranger,))
    revert = eth.revert(multi.safeTransferFrom(alice, bob, 21, 6, b""), oz.alice)
    assert (revert.name, revert.args) == ("ERC1155InsufficientBalance", (alice, 5, 6, 21))
    move = multi.safeTransferFrom(alice, bob, 21, 2, b"")
    revert = eth.revert(move, oz.bob)
    assert (revert.name, revert.args) == ("ERC1155MissingApprovalForAll", (bob, alice))
    receipt = eth.send(multi.setApprovalForAll(bob, True), oz.alice)
    assert events(oz.multi, "ApprovalForAll", receipt) == [
        {"account": alice, "operator": bob, "approved": True}
    ]
    eth.send(move, oz.bob)
    assert multi.balanceOfBatch([alice, bob], [21, 21]).call() == [3, 2]
    eth.send(multi.setApprovalForAll(bob, False), oz.alice)
    assert multi.isApprovedForAll(alice, bob).call() is False
