"""Reading and writing artifact files (``<ContractName>.json``).

The file format is described by ``schemas/artifact.schema.json``; the kernel's converter turns
:class:`~supervm.tooling.compilers.Artifact` records into that JSON and back, rejecting unknown
keys and naming the path of anything malformed.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import cattrs

from supervm.errors import SuperVMError
from supervm.tooling.compilers import Artifact, CompilerInfo
from supervm.tooling.convert import make_converter

SCHEMA_FILE = "artifact.schema.json"


class ArtifactError(SuperVMError):
    """An artifact file is missing, not JSON, or not in the artifact format."""


def artifact_schema() -> dict[str, Any]:
    """The JSON schema of artifact files."""
    text = resources.files("supervm").joinpath("schemas", SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _converter() -> cattrs.Converter:
    converter = make_converter()
    converter.register_unstructure_hook(
        Artifact,
        lambda a: {
            "name": a.name,
            "kind": a.kind,
            "abi": [dict(item) for item in a.abi],
            "bytecode": "0x" + a.bytecode.hex(),
            "deployed_bytecode": (
                None if a.deployed_bytecode is None else "0x" + a.deployed_bytecode.hex()
            ),
            "code_hash": a.code_hash,
            "source_hashes": dict(a.source_hashes),
            "compiler": {"name": a.compiler.name, "version": a.compiler.version},
            "settings": dict(a.settings),
        },
    )
    return converter


def artifact_to_json(artifact: Artifact) -> dict[str, Any]:
    """The JSON object of an artifact file."""
    data: dict[str, Any] = _converter().unstructure(artifact)
    return data


def artifact_from_json(data: Any) -> Artifact:
    """Parse an artifact's JSON object; raises :class:`ArtifactError` naming what is wrong."""
    if not isinstance(data, dict):
        raise ArtifactError("an artifact must be a JSON object")
    required = ("name", "kind", "abi", "bytecode", "code_hash", "source_hashes", "compiler")
    missing = [k for k in required if k not in data]
    if missing:
        raise ArtifactError(f"artifact lacks {', '.join(missing)}")
    try:
        if data["kind"] not in ("wasm", "evm"):
            raise ArtifactError(f"artifact kind must be 'wasm' or 'evm', not {data['kind']!r}")
        if not isinstance(data["abi"], list) or not all(isinstance(i, dict) for i in data["abi"]):
            raise ArtifactError("artifact abi must be a list of JSON objects")
        deployed = data.get("deployed_bytecode")
        return Artifact(
            name=str(data["name"]),
            kind=data["kind"],
            abi=tuple(data["abi"]),
            bytecode=_hex(data["bytecode"], "bytecode"),
            code_hash=str(data["code_hash"]),
            source_hashes=dict(data["source_hashes"]),
            compiler=CompilerInfo(str(data["compiler"]["name"]), str(data["compiler"]["version"])),
            settings=dict(data.get("settings") or {}),
            deployed_bytecode=None if deployed is None else _hex(deployed, "deployed_bytecode"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"malformed artifact: {exc}") from None


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactError(f"artifact {what} must be a 0x-hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ArtifactError(f"artifact {what} is not valid hex") from None


def save_artifact(artifact: Artifact, out_dir: Path) -> Path:
    """Write ``out_dir/<name>.json`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{artifact.name}.json"
    path.write_text(json.dumps(artifact_to_json(artifact), indent=2) + "\n")
    return path


def load_artifact(path: Path) -> Artifact:
    """Read an artifact file; raises :class:`ArtifactError` with the path on any problem."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ArtifactError(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return artifact_from_json(data)
    except ArtifactError as exc:
        raise ArtifactError(f"{path}: {exc}") from None


__all__ = [
    "ArtifactError",
    "CompilerInfo",
    "artifact_from_json",
    "artifact_schema",
    "artifact_to_json",
    "load_artifact",
    "save_artifact",
]
