"""The development accounts every Ethereum tool knows.

Hardhat, anvil and ganache derive their funded accounts from the mnemonic
``test test test test test test test test test test test junk`` along ``m/44'/60'/0'/0/i``, so
the addresses and keys are familiar to every developer and wallet. SuperVM's command line and dev
node use the same accounts: ``--caller 0`` is the first of them.
"""

from __future__ import annotations

import attrs
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

#: The Hardhat/anvil development mnemonic. Its keys are public: never hold real value with them.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: How many accounts ``supervm accounts`` lists and a dev chain funds.
DEV_ACCOUNT_COUNT = 10


@attrs.frozen
class DevAccount:
    """One account derived from a mnemonic.

    :param index: its position on the derivation path ``m/44'/60'/0'/0/index``.
    :param address: the 20-byte address.
    :param private_key: the 32-byte secp256k1 private key.
    """

    index: int
    address: bytes
    private_key: bytes

    @property
    def checksum_address(self) -> str:
        """The address in EIP-55 mixed-case hex, as wallets show it."""
        return str(Account.from_key(self.private_key).address)


def dev_accounts(count: int = DEV_ACCOUNT_COUNT, mnemonic: str = DEV_MNEMONIC) -> list[DevAccount]:
    """The first ``count`` accounts of ``mnemonic`` (BIP-39 seed, BIP-44 Ethereum path)."""
    seed = seed_from_mnemonic(mnemonic, "")
    return [_derive(seed, index) for index in range(count)]


def dev_account(index: int, mnemonic: str = DEV_MNEMONIC) -> DevAccount:
    """The account at ``index`` of ``mnemonic``."""
    if not 0 <= index < 2**31:
        raise ValueError(f"a dev account index must be between 0 and 2**31-1, got {index}")
    return _derive(seed_from_mnemonic(mnemonic, ""), index)


def _derive(seed: bytes, index: int) -> DevAccount:
    key = bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{index}"))
    return DevAccount(index, bytes.fromhex(Account.from_key(key).address[2:]), key)
