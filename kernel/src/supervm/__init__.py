"""SuperVM: a WASM-first smart-contract VM kernel with pluggable storage, VMs and schedulers."""

from supervm.chain.consensus import (
    BlockProposal,
    ConsensusEngine,
    ConsensusError,
    ConsensusSettings,
    HeaderReader,
)
from supervm.crypto import keccak256
from supervm.errors import (
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
from supervm.execution.deployment import Deployment
from supervm.execution.host import HOST_MODULE, HostEnv, HostFunction, HostTrap, OutOfGas, Revert
from supervm.execution.interfaces import ExecutionBackend, Scheduler, SchedulerSettings, VMSettings
from supervm.execution.snapshot import execute_with_snapshot
from supervm.kernel import Kernel
from supervm.model import (
    BlockResult,
    Call,
    ErrorKind,
    Event,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    Log,
)
from supervm.plugins.hookspecs import hookimpl, hookspec
from supervm.plugins.loading import PluginInfo, PluginLoadWarning, Selection
from supervm.services import (
    AdmissionContext,
    Metric,
    MetricKind,
    Metrics,
    PeerMessage,
    Rejection,
    RpcError,
    Service,
    ServiceContext,
    ServiceError,
    ServiceHost,
    Stash,
    StashKey,
)
from supervm.state.addresses import create_address
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage, StorageSettings
from supervm.state.world import WorldState
from supervm.tooling.artifacts import ArtifactError, load_artifact, save_artifact
from supervm.tooling.compilers import Artifact, Compiler, CompilerInfo, CompileSettings
from supervm.tooling.contracts import CallOutcome, Contract

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
    "ConsensusError",
    "ConsensusSettings",
    "HeaderReader",
    "AdmissionContext",
    "Metric",
    "MetricKind",
    "Metrics",
    "PeerMessage",
    "Rejection",
    "RpcError",
    "Service",
    "ServiceContext",
    "ServiceError",
    "ServiceHost",
    "Stash",
    "StashKey",
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
    "WorldState",
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
    "keccak256",
]
