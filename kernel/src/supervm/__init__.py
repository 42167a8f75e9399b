"""SuperVM: a WASM-first smart-contract VM kernel with pluggable storage, VMs and schedulers."""

from .artifacts import ArtifactError, load_artifact, save_artifact
from .compilers import Artifact, Compiler, CompilerInfo, CompileSettings
from .contracts import CallOutcome, Contract, Deployment, create_address
from .errors import (
    CallError,
    CompileError,
    DuplicateNameError,
    ModuleError,
    PluginError,
    StorageError,
    StorageFullError,
    SuperVMError,
    ToolchainError,
    UnknownImplementationError,
)
from .execution import execute_with_snapshot
from .hookspecs import hookimpl, hookspec
from .host import HOST_MODULE, HostEnv, HostFunction, HostTrap, OutOfGas, Revert
from .interfaces import (
    BlockProposal,
    ConsensusEngine,
    ConsensusSettings,
    ExecutionBackend,
    Scheduler,
    SchedulerSettings,
    VMSettings,
)
from .kernel import Kernel
from .model import (
    BlockResult,
    Call,
    ErrorKind,
    Event,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    Log,
)
from .plugins import PluginInfo, PluginLoadWarning, Selection
from .storage import StateOverlay, Storage, StorageSettings

__all__ = [
    "Artifact",
    "ArtifactError",
    "CallOutcome",
    "CompileError",
    "CompileSettings",
    "Compiler",
    "CompilerInfo",
    "Contract",
    "Deployment",
    "ToolchainError",
    "create_address",
    "load_artifact",
    "save_artifact",
    "HOST_MODULE",
    "BlockProposal",
    "BlockResult",
    "Call",
    "CallError",
    "ConsensusEngine",
    "ConsensusSettings",
    "DuplicateNameError",
    "ErrorKind",
    "Event",
    "ExecutionBackend",
    "ExecutionContext",
    "ExecutionError",
    "ExecutionResult",
    "HostEnv",
    "HostFunction",
    "HostTrap",
    "Kernel",
    "Log",
    "ModuleError",
    "OutOfGas",
    "PluginError",
    "PluginInfo",
    "PluginLoadWarning",
    "Revert",
    "Scheduler",
    "SchedulerSettings",
    "Selection",
    "StateOverlay",
    "Storage",
    "StorageError",
    "StorageFullError",
    "StorageSettings",
    "SuperVMError",
    "UnknownImplementationError",
    "VMSettings",
    "execute_with_snapshot",
    "hookimpl",
    "hookspec",
]
