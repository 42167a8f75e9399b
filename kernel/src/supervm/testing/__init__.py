"""Test helpers for SuperVM plugin authors.

:class:`StorageContract` is the pytest suite every storage backend must pass. It needs pytest and
hypothesis, which are development dependencies only, so it is imported on first use: importing
:mod:`supervm.testing` itself costs nothing and works without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supervm.testing.storage_contract import StorageContract

__all__ = ["StorageContract"]


def __getattr__(name: str) -> object:
    if name == "StorageContract":
        import pytest

        # Show operands of failing asserts in the suite, as pytest does for test modules.
        pytest.register_assert_rewrite(f"{__name__}.storage_contract")
        from supervm.testing.storage_contract import StorageContract

        return StorageContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
