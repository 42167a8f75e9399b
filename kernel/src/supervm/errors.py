"""The kernel's exception hierarchy.

Every error a user can cause derives from :class:`SuperVMError`; the CLI prints its message on
one line and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class SuperVMError(Exception):
    """Base class of every error SuperVM reports to a user."""


class PluginError(SuperVMError):
    """A plugin could not be loaded, or registered something invalid."""


class DuplicateNameError(PluginError):
    """Two plugins registered an implementation under the same name in one area."""


class UnknownImplementationError(SuperVMError):
    """Configuration asked for an implementation no enabled plugin registered."""


class StorageError(SuperVMError):
    """A storage backend failed; nothing of the failed operation was committed."""


class StorageFullError(StorageError):
    """The backend ran out of space (for LMDB: the configured map size)."""


class ModuleError(SuperVMError):
    """Code handed to an execution backend cannot be loaded (not WASM, bad import, ...)."""


class CallError(SuperVMError):
    """A call was malformed before execution began (missing export, wrong arguments)."""


class CompileError(SuperVMError):
    """Contract sources did not compile; the message is the compiler's, with file and line."""


class ToolchainError(SuperVMError):
    """A compiler's toolchain (Node.js, an npm package) is missing or broken."""
