"""Hardhat 2, unchanged, against ``supervm node --dev``: a project with a ``supervm`` network.

``npx hardhat run scripts/deploy.js --network supervm`` in ``hardhat-project/`` deploys the WASM
ERC20 artifact with hardhat-ethers' ``getContractFactory(abi, bytecode)`` and transfers, signing
with Hardhat's own HD wallet from the dev mnemonic. Hardhat's per-user folders are pointed into a
temporary directory, which also shows that it downloaded no Solidity compiler.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from supervm.chain.dev_accounts import DevAccount
from web3.types import Nonce
from web3.utils.address import get_create_address

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent / "hardhat-project"
SUPPLY = 250_000 * 10**18
#: The mnemonic account that deploys (Hardhat's signers are the mnemonic's accounts in order).
SIGNER_INDEX = 4


def test_hardhat_run_deploys_and_transfers(
    run_js: Callable[..., Any], accounts: list[DevAccount], tmp_path: Path
) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx (npm) is needed for the Hardhat test (apt-get install npm)")
    recipient = Account.create().address
    home = tmp_path / "home"
    result = run_js(
        # --no: never install anything; hardhat must resolve from the repository's node_modules.
        [npx, "--no", "hardhat", "run", "scripts/deploy.js", "--network", "supervm"],
        cwd=PROJECT,
        env={
            "SUPERVM_RECIPIENT": recipient,
            "SUPERVM_SUPPLY": str(SUPPLY),
            "SUPERVM_SIGNER_INDEX": str(SIGNER_INDEX),
            "HARDHAT_CACHE_DIR": str(tmp_path / "hardhat"),
            # Hardhat keeps compilers, telemetry consent and analytics ids in the user's folders.
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
        },
    )
    out = result.output
    deployer = accounts[SIGNER_INDEX].checksum_address
    assert out["network"] == "supervm"
    assert out["chainId"] == "31337"
    assert out["signers"] == 10
    assert out["deployer"] == deployer
    assert out["address"] == get_create_address(
        to_checksum_address(deployer), Nonce(out["deployNonce"])
    )
    assert out["deploy"] == {"status": 1, "contractAddress": out["address"]}
    assert out["symbol"] == "TOK"
    assert out["totalSupply"] == str(SUPPLY)
    amount = int(out["amount"])
    transfer = out["transfer"]
    assert transfer["status"] == 1
    assert transfer["from"] == deployer
    assert transfer["to"] == out["address"]
    assert transfer["events"] == [{"name": "Transfer", "args": [deployer, recipient, str(amount)]}]
    assert out["deployerTokens"] == str(SUPPLY - amount)
    assert out["recipientTokens"] == str(amount)
    # `hardhat run` did compile first, found no Solidity sources, and so fetched no compiler.
    files_cache = json.loads(
        (tmp_path / "hardhat" / "cache" / "solidity-files-cache.json").read_text()
    )
    assert files_cache["files"] == {}
    assert not list((home / "cache").glob("hardhat-nodejs/compilers*")), "hardhat fetched solc"
    assert "Downloading compiler" not in result.stdout + result.stderr
    # Nothing was written into the project itself.
    assert not (PROJECT / "cache").exists()
    assert not (PROJECT / "artifacts").exists()
