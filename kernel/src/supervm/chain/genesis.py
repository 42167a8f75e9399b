"""The genesis file: geth's format where the two overlap, plus SuperVM's own section.

::

    {
      "config": {"chainId": 31337},
      "gasLimit": "0x1c9c380", "baseFeePerGas": "0x3b9aca00", "timestamp": "0x0",
      "extraData": "0x", "difficulty": "0x1", "coinbase": "0x00...00", "mixHash": "0x00...00",
      "alloc": {"0xf39f...2266": {"balance": "0x21e19e0c9bab2400000", "nonce": "0x0",
                                  "code": "0x...", "storage": {"0x00": "0x01"}}},
      "supervm": {"consensus": {"engine": "dev", "validators": ["0x..."]},
                  "plugins": ["wasm_wasmtime"]}
    }

Numbers are hex strings or decimal (as geth accepts); ``config`` may carry geth's fork keys,
which are read as "every fork up to Cancun is active from genesis" (SuperVM has one rule set).
Unknown top-level keys are refused, naming the key, so a typo is not silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from supervm.errors import SuperVMError

#: The dev chain's id (Hardhat's and anvil's).
DEV_CHAIN_ID = 31337
DEFAULT_GAS_LIMIT = 30_000_000
#: EIP-1559's initial base fee, 1 gwei, as geth puts it in a London genesis.
DEFAULT_BASE_FEE = 1_000_000_000

#: geth genesis keys SuperVM reads; the others geth writes are accepted and ignored.
_KNOWN = {
    "config", "nonce", "timestamp", "extraData", "gasLimit", "difficulty", "mixHash",
    "coinbase", "alloc", "baseFeePerGas", "supervm",
}  # fmt: skip
_IGNORED = {"number", "gasUsed", "parentHash", "excessBlobGas", "blobGasUsed"}


class GenesisError(SuperVMError):
    """A genesis file that cannot make a chain; the message names the field."""


@attrs.frozen
class GenesisAccount:
    """An account the chain starts with.

    :param balance: wei.
    :param nonce: the account's nonce.
    :param code: contract code (WASM or EVM); empty for a plain account.
    :param storage: slot key -> value (EVM: 32-byte words; WASM: the host ABI's keys).
    """

    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: Mapping[bytes, bytes] = attrs.field(factory=dict)


@attrs.frozen
class ConsensusConfig:
    """SuperVM's consensus section.

    :param engine: the registered consensus engine's name.
    :param validators: the authorities, in rotation order.
    :param options: engine-specific settings, as strings.
    """

    engine: str = "dev"
    validators: tuple[bytes, ...] = ()
    options: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Genesis:
    """A parsed genesis file.

    :param chain_id: the EIP-155 chain id.
    :param gas_limit: the genesis block's gas limit.
    :param base_fee: the genesis base fee per gas (wei).
    :param timestamp: the genesis block's time.
    :param extra_data: the genesis header's extra data.
    :param difficulty: the genesis difficulty.
    :param mix_hash: the genesis mix hash.
    :param coinbase: the genesis coinbase.
    :param nonce: the genesis header's 8-byte nonce.
    :param alloc: the accounts the chain starts with.
    :param consensus: the consensus engine and its parameters.
    :param plugins: plugins the chain needs enabled (checked when it is opened).
    """

    chain_id: int
    gas_limit: int = DEFAULT_GAS_LIMIT
    base_fee: int = DEFAULT_BASE_FEE
    timestamp: int = 0
    extra_data: bytes = b""
    difficulty: int = 0
    mix_hash: bytes = bytes(32)
    coinbase: bytes = bytes(20)
    nonce: bytes = bytes(8)
    alloc: Mapping[bytes, GenesisAccount] = attrs.field(factory=dict)
    consensus: ConsensusConfig = ConsensusConfig()
    plugins: tuple[str, ...] = ()


def _int(value: object, where: str, *, bits: int = 256) -> int:
    if isinstance(value, bool):
        raise GenesisError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value, 16) if value[:2] in ("0x", "0X") else int(value, 10)
        except ValueError:
            raise GenesisError(f"{where}: {value!r} is not a hex or decimal number") from None
    else:
        raise GenesisError(f"{where}: expected a number, got {value!r}")
    if not 0 <= number < 2**bits:
        raise GenesisError(f"{where}: {number} is out of range (0 to 2**{bits}-1)")
    return number


def _bytes(value: object, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise GenesisError(f"{where}: expected a hex string, got {value!r}")
    text = value.removeprefix("0x").removeprefix("0X")
    if len(text) % 2:
        text = "0" + text
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise GenesisError(f"{where}: {value!r} is not hex") from None
    if size is not None:
        if len(data) > size:
            raise GenesisError(f"{where}: expected {size} bytes, got {len(data)}")
        data = data.rjust(size, b"\0")
    return data


def _account(address: str, raw: object) -> tuple[bytes, GenesisAccount]:
    where = f"alloc[{address}]"
    addr = _bytes(address if address[:2] in ("0x", "0X") else "0x" + address, where)
    if len(addr) != 20:
        raise GenesisError(f"{where}: an address is 20 bytes, got {len(addr)}")
    if not isinstance(raw, dict):
        raise GenesisError(f"{where}: expected an object")
    unknown = set(raw) - {"balance", "nonce", "code", "storage", "secretKey"}
    if unknown:
        raise GenesisError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    storage_raw = raw.get("storage", {})
    if not isinstance(storage_raw, dict):
        raise GenesisError(f"{where}.storage: expected an object")
    code = _bytes(raw.get("code", "0x"), f"{where}.code")
    wasm = code[:4] == b"\0asm"
    storage = {}
    for key, value in storage_raw.items():
        size = None if wasm else 32  # EVM slots are words; WASM keys are the host ABI's
        k = _bytes(key, f"{where}.storage key", size)
        v = _bytes(value, f"{where}.storage[{key}]", size)
        storage[k] = v
    return addr, GenesisAccount(
        balance=_int(raw.get("balance", 0), f"{where}.balance"),
        nonce=_int(raw.get("nonce", 0), f"{where}.nonce", bits=64),
        code=code,
        storage=storage,
    )


def parse_genesis(data: Mapping[str, Any]) -> Genesis:
    """A :class:`Genesis` from a decoded genesis file; :class:`GenesisError` names what is wrong."""
    if not isinstance(data, Mapping):
        raise GenesisError("a genesis file is a JSON object")
    unknown = set(data) - _KNOWN - _IGNORED
    if unknown:
        raise GenesisError(f"unknown genesis key {sorted(unknown)[0]!r}")
    config = data.get("config")
    if not isinstance(config, Mapping) or "chainId" not in config:
        raise GenesisError("config.chainId is required")
    alloc_raw = data.get("alloc", {})
    if not isinstance(alloc_raw, Mapping):
        raise GenesisError("alloc: expected an object")
    alloc = dict(_account(str(a), raw) for a, raw in alloc_raw.items())
    section = data.get("supervm", {})
    if not isinstance(section, Mapping):
        raise GenesisError("supervm: expected an object")
    unknown = set(section) - {"consensus", "plugins"}
    if unknown:
        raise GenesisError(f"supervm: unknown key {sorted(unknown)[0]!r}")
    consensus_raw = section.get("consensus", {})
    if not isinstance(consensus_raw, Mapping):
        raise GenesisError("supervm.consensus: expected an object")
    engine = consensus_raw.get("engine", "dev")
    if not isinstance(engine, str):
        raise GenesisError("supervm.consensus.engine: expected a name")
    validators = tuple(
        _bytes(v, "supervm.consensus.validators", 20) for v in consensus_raw.get("validators", ())
    )
    options = {
        str(k): str(v) for k, v in consensus_raw.items() if k not in ("engine", "validators")
    }
    plugins = section.get("plugins", ())
    if not isinstance(plugins, list | tuple) or not all(isinstance(p, str) for p in plugins):
        raise GenesisError("supervm.plugins: expected a list of plugin names")
    return Genesis(
        chain_id=_int(config["chainId"], "config.chainId", bits=64),
        gas_limit=_int(data.get("gasLimit", DEFAULT_GAS_LIMIT), "gasLimit", bits=64),
        base_fee=_int(data.get("baseFeePerGas", DEFAULT_BASE_FEE), "baseFeePerGas"),
        timestamp=_int(data.get("timestamp", 0), "timestamp", bits=64),
        extra_data=_bytes(data.get("extraData", "0x"), "extraData"),
        difficulty=_int(data.get("difficulty", 0), "difficulty"),
        mix_hash=_bytes(data.get("mixHash", "0x" + "00" * 32), "mixHash", 32),
        coinbase=_bytes(data.get("coinbase", "0x" + "00" * 20), "coinbase", 20),
        nonce=_bytes(data.get("nonce", "0x0"), "nonce", 8),
        alloc=alloc,
        consensus=ConsensusConfig(engine, validators, options),
        plugins=tuple(plugins),
    )


def load_genesis(path: Path) -> tuple[Genesis, bytes]:
    """Read and parse a genesis file; returns it with the file's bytes (stored with the chain)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GenesisError(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GenesisError(f"{path}: not JSON: {exc}") from None
    try:
        return parse_genesis(data), raw
    except GenesisError as exc:
        raise GenesisError(f"{path}: {exc}") from None


def dev_genesis(
    accounts: tuple[bytes, ...], *, balance: int = 10_000 * 10**18, chain_id: int = DEV_CHAIN_ID
) -> dict[str, Any]:
    """A dev chain's genesis file: ``accounts`` funded with ``balance`` wei each (10,000 ETH)."""
    return {
        "config": {"chainId": chain_id},
        "gasLimit": hex(DEFAULT_GAS_LIMIT),
        "baseFeePerGas": hex(DEFAULT_BASE_FEE),
        "timestamp": "0x0",
        "extraData": "0x",
        "alloc": {"0x" + a.hex(): {"balance": hex(balance)} for a in accounts},
        "supervm": {"consensus": {"engine": "dev"}},
    }
