"""The artifacts a node knows: what turns calldata, logs and revert data into names and values.

An artifact (the ``<Contract>.json`` files ``supervm compile`` writes, the format of
:mod:`supervm.tooling.artifacts`) becomes known when a client registers it
(``supervm_registerArtifact``) or the node starts with ``--artifacts DIR``. It then describes

- every contract whose code is the artifact's code: the code hash of the deployed code is
  matched (a WASM contract's code is its module, ``bytecode`` up to the end marker; an EVM
  contract's is ``deployed_bytecode``), so a token deployed before or after the registration,
  by any client, is recognised;
- the contracts it was registered for by address (an EVM contract with immutables, whose code
  differs from ``deployed_bytecode``), and the contracts created with its bytecode;
- and, for a contract no artifact describes, any call or log whose selector or topic one of the
  known ABIs has (an ERC20 call is an ERC20 call whoever compiled the token).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
from supervm.crypto import keccak256
from supervm.execution.wasm_binary import WasmFormatError, split_create_data, with_end_marker
from supervm.tooling import abi as ethabi
from supervm.tooling.abi import AbiItem
from supervm.tooling.artifacts import ArtifactError, artifact_from_json, load_artifact
from supervm.tooling.compilers import Artifact

_WASM_MAGIC = b"\0asm"


@attrs.define
class Known:
    """One known artifact.

    :param artifact: the artifact.
    :param code_hashes: Keccak-256 hashes of the code its contracts run.
    :param addresses: contracts it was registered for, or seen to create.
    :param source: where it came from (``rpc``, or the file it was read from).
    """

    artifact: Artifact
    code_hashes: frozenset[bytes]
    addresses: set[bytes] = attrs.field(factory=set)
    source: str = "rpc"

    @property
    def key(self) -> bytes:
        """The artifact's identity: the hash of the code it deploys."""
        return min(self.code_hashes) if self.code_hashes else keccak256(self.artifact.bytecode)


def deployed_code_hashes(artifact: Artifact) -> frozenset[bytes]:
    """The code hashes a contract deployed from ``artifact`` can have."""
    if artifact.kind == "wasm":
        hashes = {keccak256(artifact.bytecode)}
        try:
            module, _ = split_create_data(artifact.bytecode)
            hashes.add(keccak256(module))
            hashes.add(keccak256(with_end_marker(module)))
        except (WasmFormatError, ValueError, IndexError):
            pass  # not a module the node could deploy: it still decodes by ABI
        return frozenset(hashes)
    if artifact.deployed_bytecode:
        return frozenset({keccak256(artifact.deployed_bytecode)})
    return frozenset()


class ArtifactBook:
    """The artifacts a node knows, by code hash and by address."""

    def __init__(self) -> None:
        self._known: dict[bytes, Known] = {}  # by Known.key, in registration order

    def __len__(self) -> int:
        return len(self._known)

    def __iter__(self) -> Iterator[Known]:
        return iter(list(self._known.values()))

    def add(
        self, artifact: Artifact, address: bytes | None = None, *, source: str = "rpc"
    ) -> Known:
        """Know ``artifact`` (again: the newer registration replaces the ABI, addresses are
        kept), optionally as the description of the contract at ``address``."""
        fresh = Known(artifact, deployed_code_hashes(artifact), source=source)
        old = self._known.get(fresh.key)
        if old is not None:
            fresh.addresses = old.addresses
        if address is not None:
            for other in self._known.values():  # an address has one description
                other.addresses.discard(address)
            fresh.addresses.add(address)
        self._known[fresh.key] = fresh
        return fresh

    def add_json(self, data: Any, address: bytes | None = None, *, source: str = "rpc") -> Known:
        """:meth:`add` an artifact's JSON object.

        :raises ArtifactError: naming what is wrong with it.
        """
        return self.add(artifact_from_json(data), address, source=source)

    def load_dir(self, directory: Path) -> list[Known]:
        """Read every ``*.json`` artifact under ``directory`` (recursively, as Hardhat's and
        Foundry's output folders nest them).

        Files that are not artifacts (build info, debug files) are skipped.

        :raises ArtifactError: if ``directory`` is not a directory.
        """
        if not directory.is_dir():
            raise ArtifactError(f"--artifacts {directory}: not a directory")
        loaded = []
        for path in sorted(directory.rglob("*.json")):
            try:
                artifact = load_artifact(path)
            except ArtifactError:
                continue
            loaded.append(self.add(artifact, source=str(path)))
        return loaded

    def for_contract(self, address: bytes, code_hash: bytes | None) -> Known | None:
        """The artifact describing the contract at ``address`` whose code hash is
        ``code_hash``: one registered for that address, else one whose code it runs."""
        by_code = None
        for known in self._known.values():
            if address in known.addresses:
                return known
            if by_code is None and code_hash is not None and code_hash in known.code_hashes:
                by_code = known
        return by_code

    def for_creation(self, data: bytes) -> Known | None:
        """The artifact whose bytecode a create transaction's ``data`` deploys."""
        if data[:4] == _WASM_MAGIC:
            try:
                module, _ = split_create_data(data)
            except (WasmFormatError, ValueError, IndexError):
                return None
            code_hash = keccak256(module)
            for known in self._known.values():
                if code_hash in known.code_hashes:
                    return known
            return None
        best = None
        for known in self._known.values():  # EVM: the initcode, constructor arguments after it
            code = known.artifact.bytecode
            if code and data.startswith(code) and (best is None or len(code) > len(best[0])):
                best = (code, known)
        return None if best is None else best[1]

    def abis(self, first: Known | None = None) -> Iterator[tuple[Known, Sequence[AbiItem]]]:
        """Every known ABI, ``first``'s before the others."""
        if first is not None:
            yield first, first.artifact.abi
        for known in self._known.values():
            if known is not first:
                yield known, known.artifact.abi

    def function(self, selector: bytes, first: Known | None = None) -> tuple[Known, AbiItem] | None:
        """A function with ``selector``, in ``first``'s ABI if it has one, else in any."""
        for known, abi in self.abis(first):
            for item in abi:
                if item.get("type") == "function" and ethabi.selector(item) == selector:
                    return known, item
        return None


__all__ = ["ArtifactBook", "Known", "deployed_code_hashes"]
