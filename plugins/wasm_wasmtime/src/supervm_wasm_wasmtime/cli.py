"""``supervm wasm run`` and ``supervm demo``, contributed to the CLI by this plugin."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click
import wasmtime
from supervm import (
    Artifact,
    ExecutionContext,
    ExecutionResult,
    Kernel,
    ModuleError,
    StateOverlay,
    load_artifact,
)
from supervm.chain.dev_accounts import DEV_ACCOUNT_COUNT, dev_account
from supervm.cli.state import kernel_state
from supervm.errors import CallError
from supervm.model import DEFAULT_GAS_LIMIT, U64_MAX, ZERO_ADDRESS
from supervm.state.storage import Storage, StorageSettings
from supervm.state.world import WorldState
from supervm.tooling import abi as ethabi
from supervm.tooling.contracts import CallOutcome, decode_outcome
from supervm.tooling.convert import result_to_json


def load_code(path: Path) -> tuple[bytes, Artifact | None]:
    """The code in ``path`` and, for an artifact ``.json``, the artifact (with its ABI)."""
    if path.suffix == ".json":
        artifact = load_artifact(path)
        if artifact.kind != "wasm":
            raise ModuleError(f"{path}: a {artifact.kind} artifact cannot run on the WASM backend")
        return artifact.bytecode, artifact
    return load_module(path), None


def load_module(path: Path) -> bytes:
    """Read a ``.wasm`` binary, or compile a ``.wat`` text module."""
    data = path.read_bytes()
    if data[:4] == b"\0asm" or path.suffix != ".wat":
        return data  # the backend names what is wrong with bytes that are not WASM
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ModuleError(f"{path}: neither a WebAssembly binary nor WebAssembly text") from None
    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise ModuleError(f"{path}: invalid WebAssembly text: {first}") from None


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an integer") from None


def _hex(text: str, what: str, size: int | None = None) -> bytes:
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise click.BadParameter(f"{what} {text!r} is not hex") from None
    if size is not None and len(data) != size:
        raise click.BadParameter(f"{what} must be {size} bytes, got {len(data)}")
    return data


def _account(text: str, what: str) -> bytes:
    """An address in hex, or the index of a dev account (``0`` to ``9``)."""
    if text.isdecimal() and len(text) <= 2:
        index = int(text)
        if index >= DEV_ACCOUNT_COUNT:
            raise click.BadParameter(
                f"{what} {text}: dev accounts are numbered 0 to {DEV_ACCOUNT_COUNT - 1} "
                "(see `supervm accounts`)"
            )
        return dev_account(index).address
    return _hex(text, what, 20)


def describe(result: ExecutionResult) -> list[str]:
    """Readable lines for a result."""
    lines = []
    if result.value is not None:
        lines.append(f"value: {result.value}")
    if result.return_data:
        lines.append(f"return data: 0x{result.return_data.hex()}")
    for event in result.events:
        lines.append(f"event: 0x{event.data.hex()}  {event.data!r}")
    for log in result.logs:
        topics = ", ".join("0x" + t.hex() for t in log.topics)
        lines.append(f"log: topics [{topics}] data 0x{log.data.hex()}")
    lines.append(f"gas used: {result.gas_used}")
    return lines


F = TypeVar("F", bound=Callable[..., Any])

#: Where the command line keeps its state unless ``--data-dir`` or this variable says otherwise.
DATA_DIR_ENV = "SUPERVM_DATA_DIR"
DEFAULT_DATA_DIR = Path(".supervm")
_U64 = click.IntRange(min=0, max=U64_MAX)


def _chain_options(command: F) -> F:
    """The storage, block and caller options ``wasm run`` and ``wasm deploy`` share."""
    options = [
        click.option(
            "--storage",
            default="lmdb",
            show_default=True,
            help="Storage backend: lmdb keeps state in --data-dir across runs; memory starts "
            "empty and keeps nothing.",
        ),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=DEFAULT_DATA_DIR,
            envvar=DATA_DIR_ENV,
            show_default=True,
            help=f"Where persistent storage keeps its state (also ${DATA_DIR_ENV}).",
        ),
        click.option("--block-number", default=0, show_default=True, type=_U64),
        click.option("--timestamp", default=0, show_default=True, type=_U64),
        click.option("--gas", default=DEFAULT_GAS_LIMIT, show_default=True, type=_U64),
        click.option(
            "--caller",
            default="0",
            show_default=True,
            metavar="ACCOUNT",
            help="Caller: a 20-byte hex address, or a dev account's number (0-9, see "
            "`supervm accounts`).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("wasm")
def wasm_group() -> None:
    """Run WebAssembly modules against SuperVM storage."""


def _split_module(args: tuple[str, ...], address: str | None) -> tuple[Path | None, list[str]]:
    """MODULE is the first argument unless ``--address`` names a contract and it is no file."""
    if args:
        first = Path(args[0])
        if first.suffix in MODULE_SUFFIXES or first.is_file() or address is None:
            if not first.is_file():
                raise click.BadParameter(f"{args[0]!r} does not exist", param_hint="MODULE")
            return first, list(args[1:])
    if address is None:
        raise click.UsageError("give a MODULE, or --address of a deployed contract")
    return None, list(args)


#: Files ``wasm run`` and ``wasm deploy`` load: WASM binaries, WAT text and artifacts.
MODULE_SUFFIXES = (".wasm", ".wat", ".json")


@wasm_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, metavar="[MODULE] [ARGS]...")
@click.option(
    "--call", "export", metavar="EXPORT", help="Export to call (default with --fn: call)."
)
@click.option("--fn", "fn_name", metavar="NAME", help="ABI function to call (needs an ABI).")
@click.option(
    "--args", "abi_args", is_flag=True, help="The ARGS that follow are --fn's ABI arguments."
)
@click.option("--input", "input_hex", default="", metavar="HEX", help="Call data, as hex.")
@_chain_options
@click.option(
    "--address",
    metavar="HEX",
    help="Contract address. With a deployed contract there, its code runs (MODULE may be "
    "left out); without one, MODULE runs in that address's storage.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.pass_context
def run_command(
    ctx: click.Context,
    args: tuple[str, ...],
    export: str | None,
    fn_name: str | None,
    abi_args: bool,
    input_hex: str,
    storage: str,
    data_dir: Path,
    block_number: int,
    timestamp: int,
    gas: int,
    caller: str,
    address: str | None,
    as_json: bool,
) -> None:
    """Call EXPORT of MODULE (.wasm, .wat or an artifact .json) with integer ARGS.

    With an artifact, --fn NAME --args A B ... calls an ABI function: the calldata is encoded
    from the ABI and the return data, logs and revert reason are decoded. With --address of a
    contract made by `wasm deploy`, the deployed code runs and MODULE may be left out (the ABI
    is the one recorded at deployment). Successful calls commit their writes; state lives in
    --data-dir (default ./.supervm) unless --storage memory.
    """
    kernel: Kernel = kernel_state(ctx).kernel
    module, args_list = _split_module(args, address)
    target = _hex(address, "--address", 20) if address is not None else ZERO_ADDRESS
    context = _context(caller, target, block_number, timestamp, gas)
    call_input = _hex(input_hex, "--input")
    code, artifact = load_code(module) if module is not None else (None, None)
    with _storage(kernel, storage, data_dir) as store:
        world = WorldState(store)
        deployed = (world.code(target) or None) if address is not None else None
        if deployed is not None and code is not None and deployed != code:
            raise click.UsageError(
                f"0x{target.hex()} holds another contract's code than {module}; leave MODULE "
                "out to run the deployed code, or give the artifact it was deployed from"
            )
        if deployed is None and code is None:
            raise CallError(f"no contract is deployed at 0x{target.hex()}")
        abi = artifact.abi if artifact is not None else _recorded_abi(storage, data_dir, target)
        fn = None
        if fn_name is not None:
            if abi is None:
                raise click.UsageError(
                    "--fn needs an ABI: give the artifact (.json), or --address of a contract "
                    "deployed from one"
                )
            fn = ethabi.find_function(abi, fn_name, len(args_list))
            call_input = ethabi.selector(fn) + ethabi.encode_arguments(
                fn.get("inputs", ()), args_list, item=fn
            )
            int_args: list[int] = []
            export = export or "call"
        else:
            if abi_args:
                raise click.UsageError("--args goes with --fn")
            if export is None:
                raise click.UsageError("give --call EXPORT (or --fn NAME with an ABI)")
            int_args = [_int(a) for a in args_list]
        run_code = deployed if deployed is not None else code
        assert run_code is not None
        result = kernel.execute(
            run_code, world, context, entry=export, args=int_args, input=call_input
        )
        if result.ok:
            world.commit()
    data = result_to_json(result)
    lines = describe(result)
    if abi is not None:
        lines += _decoded_lines(decode_outcome(abi, fn or {}, result), data)
    _report(ctx, result, data, lines, as_json)


def _decoded_lines(outcome: CallOutcome, data: dict[str, Any]) -> list[str]:
    """Readable lines for an ABI-decoded outcome; adds ``decoded`` to the JSON ``data``."""
    data["decoded"] = {
        "values": list(outcome.values),
        "events": [{"event": name, "args": dict(a)} for name, a in outcome.events],
        "revert_reason": outcome.revert_reason,
    }
    lines = [f"returns: {', '.join(map(str, outcome.values))}"] if outcome.values else []
    lines += [
        f"{name}({', '.join(f'{k}={v}' for k, v in a.items())})" for name, a in outcome.events
    ]
    if outcome.revert_reason:
        lines.append(f"revert reason: {outcome.revert_reason}")
    return lines


@wasm_group.command("deploy", context_settings={"ignore_unknown_options": True})
@click.argument("module", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1)
@_chain_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.pass_context
def deploy_command(
    ctx: click.Context,
    module: Path,
    args: tuple[str, ...],
    storage: str,
    data_dir: Path,
    block_number: int,
    timestamp: int,
    gas: int,
    caller: str,
    as_json: bool,
) -> None:
    """Deploy MODULE (.wasm, .wat or artifact .json) with constructor ARGS; print its address.

    The address is Ethereum's CREATE address of the deployer (--caller, default dev account 0)
    and its nonce. The module's optional `deploy` export runs once with the ABI-encoded
    constructor arguments. An artifact's ABI is recorded in --data-dir, so that
    `wasm run --address ADDRESS --fn ...` needs no module file.
    """
    kernel: Kernel = kernel_state(ctx).kernel
    context = _context(caller, ZERO_ADDRESS, block_number, timestamp, gas)
    code, artifact = load_code(module)
    constructor_input = b""
    if artifact is not None:
        ctor = ethabi.constructor(artifact.abi)
        constructor_input = ethabi.encode_arguments(
            ctor.get("inputs", ()) if ctor else (), args, item=ctor
        )
    elif args:
        raise click.UsageError("constructor arguments need an artifact (.json) with an ABI")
    with _storage(kernel, storage, data_dir) as store:
        deployment = kernel.deploy(code, store, context, input=constructor_input)
    result = deployment.result
    if deployment.ok and artifact is not None and storage != "memory":
        _record_abi(data_dir, deployment.address, artifact)
    data = {"address": "0x" + deployment.address.hex(), **result_to_json(result)}
    lines = [f"address: 0x{deployment.address.hex()}", *describe(result)]
    if artifact is not None:
        lines += _decoded_lines(decode_outcome(artifact.abi, {}, result), data)
    _report(ctx, result, data, lines, as_json)


def _context(caller: str, address: bytes, block: int, timestamp: int, gas: int) -> ExecutionContext:
    return ExecutionContext(
        block_number=block,
        timestamp=timestamp,
        caller=_account(caller, "--caller"),
        address=address,
        gas_limit=gas,
    )


def _storage(kernel: Kernel, name: str, data_dir: Path) -> Storage:
    if name == "memory":
        return kernel.open_storage(name)
    data_dir.mkdir(parents=True, exist_ok=True)
    return kernel.open_storage(name, StorageSettings(data_dir=data_dir / name))


def _abi_path(data_dir: Path, address: bytes) -> Path:
    return data_dir / "abi" / f"0x{address.hex()}.json"


def _record_abi(data_dir: Path, address: bytes, artifact: Artifact) -> None:
    """Keep a deployed artifact's name and ABI beside the state, for calls by address."""
    path = _abi_path(data_dir, address)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"contractName": artifact.name, "abi": list(artifact.abi)}))


def _recorded_abi(storage: str, data_dir: Path, address: bytes) -> list[dict[str, Any]] | None:
    if storage == "memory":
        return None
    path = _abi_path(data_dir, address)
    if not path.is_file():
        return None
    abi: list[dict[str, Any]] = json.loads(path.read_text())["abi"]
    return abi


def _report(
    ctx: click.Context,
    result: ExecutionResult,
    data: dict[str, Any],
    lines: list[str],
    as_json: bool,
) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        for line in lines:
            click.echo(line)
    if result.error is not None:
        if not as_json:
            click.echo(f"error: {result.error}", err=True)
        ctx.exit(1)


def _example(name: str) -> bytes:
    text = resources.files("supervm_wasm_wasmtime").joinpath("demo", name).read_text()
    return bytes(wasmtime.wat2wasm(text))


def run_demos(kernel: Kernel) -> None:
    """The four demos: add; events; storage counter; snapshot and rollback."""
    echo = click.echo
    storage = kernel.open_storage("memory")
    contract = bytes.fromhex("00000000000000000000000000000000000c0de1")
    ctx = ExecutionContext(block_number=1, timestamp=int(time.time()), address=contract)

    echo("== add: calling an export with integer arguments")
    result = kernel.execute(_example("add.wat"), storage, ctx, entry="add", args=[2, 3])
    echo(f"   add(2, 3) = {result.value}   (gas {result.gas_used})")

    echo("== events: emit_event, emit_log, read_event")
    result = kernel.execute(_example("events.wat"), storage, ctx)
    for line in describe(result):
        echo(f"   {line}")

    echo("== storage counter: each call reads, increments and stores 'count'")
    counter = _example("counter.wat")
    for block in range(1, 4):
        ctx_n = ExecutionContext(block_number=block, address=contract)
        result = kernel.execute(counter, storage, ctx_n, entry="increment")
        echo(f"   block {block}: count = {result.value}   (gas {result.gas_used})")

    echo("== snapshot and rollback")
    state = StateOverlay(storage)
    before = kernel.execute(counter, state, ctx, entry="increment").value
    state.snapshot()
    inside = kernel.execute(counter, state, ctx, entry="increment").value
    state.rollback_snapshot()
    after = kernel.execute(counter, state, ctx, entry="increment").value
    echo(f"   count {before}, then {inside} inside a snapshot, rolled back, then {after}")
    reverted = kernel.execute(_example("revert.wat"), state, ctx)
    reason = reverted.return_data.decode(errors="replace")
    echo(f"   a contract that writes then reverts: {reverted.error} ({reason!r}), "
         f"{len(reverted.write_set)} key written and discarded")  # fmt: skip
    state.commit()
    echo(f"   committed: {len(list(storage.iterate()))} key(s) in storage")


@click.command("demo")
@click.option("--once", is_flag=True, help="Run the demos once and exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.pass_context
def demo_command(ctx: click.Context, once: bool, interval: float) -> None:
    """Run SuperVM's demos: add, events, a storage counter, snapshot and rollback."""
    kernel: Kernel = kernel_state(ctx).kernel
    round_ = 1
    while True:
        run_demos(kernel)
        if once:
            return
        round_ += 1
        click.echo(f"-- round {round_} in {interval:g} s (Ctrl-C to stop)")
        time.sleep(interval)
