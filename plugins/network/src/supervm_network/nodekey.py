"""The node's network key: an Ed25519 seed kept in the data directory, so its peer id stays.

``DATA_DIR/network/nodekey`` holds the 32-byte seed as hex (as geth's ``nodekey`` holds its
key), readable by its owner only. A node without a data directory (a throwaway dev chain) gets
a new key each run.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from supervm.errors import SuperVMError

#: The data directory's subdirectory the network keeps its files in.
NETWORK_SUBDIR: Final = "network"
#: The key's file name in it.
KEY_FILE: Final = "nodekey"
SEED_SIZE: Final = 32


class NodeKeyError(SuperVMError):
    """The node key file exists but does not hold a key."""


def key_path(data_dir: Path) -> Path:
    """Where the node key of ``data_dir`` is kept."""
    return data_dir / NETWORK_SUBDIR / KEY_FILE


def load_or_create(data_dir: Path | None) -> bytes:
    """The node's key seed: read from ``data_dir``, or made (and saved there) the first time.

    :raises NodeKeyError: if the file holds anything but 64 hex digits.
    """
    if data_dir is None:
        return secrets.token_bytes(SEED_SIZE)
    path = key_path(data_dir)
    if path.exists():
        text = path.read_text().strip().removeprefix("0x")
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            seed = b""
        if len(seed) != SEED_SIZE:
            raise NodeKeyError(f"{path} does not hold a node key (64 hex digits)")
        return seed
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = secrets.token_bytes(SEED_SIZE)
    # Created with owner-only permissions, and written before anyone could open it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(seed.hex() + "\n")
    return seed
