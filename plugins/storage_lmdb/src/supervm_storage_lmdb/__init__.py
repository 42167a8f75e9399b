"""SuperVM plugin: the ``lmdb`` storage backend, crash-safe and readable from other processes.

This module is the plugin itself (it is the ``supervm.plugins`` entry point), so it carries the
hook implementation; the store lives in :mod:`supervm_storage_lmdb.storage`.
"""

from __future__ import annotations

from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import StorageRegistry

from .storage import DEFAULT_MAP_SIZE, LmdbStorage, parse_size

__all__ = ["DEFAULT_MAP_SIZE", "LmdbStorage", "parse_size", "supervm_register_storage"]


@hookimpl
def supervm_register_storage(registry: StorageRegistry) -> None:
    """Offer :class:`LmdbStorage` as ``lmdb``; it needs ``data_dir`` in its settings."""
    registry.add_storage("lmdb", LmdbStorage)
