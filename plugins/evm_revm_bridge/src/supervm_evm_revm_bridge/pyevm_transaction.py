"""A whole Ethereum transaction on py-evm's Cancun executor, over the world state.

py-evm's ``CancunTransactionExecutor`` runs the steps (buy gas, bump the nonce, warm the sender,
the target, the coinbase and the access list, run the message or create, refund with EIP-3529's
cap, pay the tip); :class:`WorldTransactionExecutor` keeps them and changes two things:

- validation is the kernel's (``TransactionExecutor._check`` already checked nonce, funds, fee
  cap and intrinsic gas with geth's messages), so py-evm's is skipped;
- the end of the transaction pays with commutative credits and does not sweep touched empty
  accounts (the world state never keeps empty accounts; see
  :mod:`~supervm_evm_revm_bridge.pyevm_state`).

:class:`EvmTransaction` gives py-evm the attributes of a signed transaction it reads, from the
kernel's :class:`~supervm.chain.transactions.UnsignedTransaction` and its sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.cancun.state import CancunTransactionExecutor
from eth_typing import Address
from supervm.chain.transactions import (
    INITCODE_WORD_GAS,
    UnsignedTransaction,
    fee_cap,
    intrinsic_gas,
    tip_cap,
)

if TYPE_CHECKING:
    from eth.abc import ComputationAPI, SignedTransactionAPI


class EvmTransaction:
    """The fields of a transaction py-evm's executor reads (it never needs a signature)."""

    __slots__ = (
        "access_list",
        "blob_versioned_hashes",
        "data",
        "gas",
        "gas_price",
        "intrinsic_gas",
        "max_fee_per_blob_gas",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
        "sender",
        "to",
        "type_id",
        "value",
    )

    def __init__(self, tx: UnsignedTransaction, sender: bytes) -> None:
        self.type_id = tx.type
        self.sender = Address(sender)
        self.to = Address(tx.to) if tx.to is not None else CREATE_CONTRACT_ADDRESS
        self.gas = tx.gas
        self.value = tx.value
        self.data = tx.data
        # A legacy or EIP-2930 price is, under EIP-1559, both the fee cap and the tip cap.
        self.max_fee_per_gas = fee_cap(tx)
        self.max_priority_fee_per_gas = tip_cap(tx)
        self.gas_price = self.max_fee_per_gas
        self.blob_versioned_hashes = tx.blob_versioned_hashes
        self.max_fee_per_blob_gas = tx.max_fee_per_blob_gas or 0
        gas = intrinsic_gas(tx)
        if tx.to is None:
            # py-evm charges EIP-3860's init code words when the create runs, not up front.
            gas -= INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
        self.intrinsic_gas = gas
        self.access_list = tuple(
            (Address(address), tuple(int.from_bytes(key, "big") for key in keys))
            for address, keys in tx.access_list
        )

    def __repr__(self) -> str:
        to = "create" if self.to == CREATE_CONTRACT_ADDRESS else f"0x{self.to.hex()}"
        return f"EvmTransaction(0x{self.sender.hex()} -> {to}, gas {self.gas})"


class WorldTransactionExecutor(CancunTransactionExecutor):
    """py-evm's Cancun transaction steps, with the kernel's validation and credits.

    After a call, :attr:`gas_used` is the transaction's gas after the refund.
    """

    gas_used: int = 0

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        """The kernel checked the transaction can be included before handing it over."""

    def calc_data_fee(self, transaction: Any) -> int:
        """EIP-4844's blob fee, burnt with the gas purchase: nothing when simulating."""
        state: Any = self.vm_state
        if state.frame.simulate:
            return 0
        return int(super().calc_data_fee(transaction))

    def finalize_computation(
        self, transaction: SignedTransactionAPI, computation: ComputationAPI
    ) -> ComputationAPI:
        state: Any = self.vm_state
        gas_remaining = computation.get_gas_remaining()
        gas_used = transaction.gas - gas_remaining
        refund = self.calculate_gas_refund(computation, gas_used)  # EIP-3529's cap
        price = state.get_gas_price(transaction)  # 0 when simulating
        if price and refund + gas_remaining:
            state.delta_balance(transaction.sender, (refund + gas_remaining) * price)
        gas_used -= refund
        tip = state.get_tip(transaction)
        if tip and gas_used:
            # A commutative credit: paying one coinbase makes no two transactions conflict.
            state.delta_balance(state.coinbase, gas_used * tip)
        for account in computation.get_accounts_for_deletion():
            state.delete_account(account)
        self.gas_used = gas_used
        return computation


__all__ = ["EvmTransaction", "WorldTransactionExecutor"]
