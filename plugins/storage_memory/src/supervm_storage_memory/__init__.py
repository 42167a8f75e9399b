"""SuperVM plugin: the ``memory`` storage backend, an ordered in-memory store.

This module is the plugin itself (it is the ``supervm.plugins`` entry point), so it carries the
hook implementation; the store lives in :mod:`supervm_storage_memory.storage`.
"""

from __future__ import annotations

from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import StorageRegistry

from .storage import MemoryStorage

__all__ = ["MemoryStorage", "supervm_register_storage"]


@hookimpl
def supervm_register_storage(registry: StorageRegistry) -> None:
    """Offer :class:`MemoryStorage` as ``memory``, the kernel's default backend."""
    registry.add_storage("memory", MemoryStorage)
