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
from supervm import abi as ethabi
from supervm.cli.state import kernel_state
from supervm.contracts import decode_outcome
from supervm.convert import result_to_json
from supervm.model import DEFAULT_GAS_LIMIT
from supervm.storage import Storage, StorageSettings


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


def _chain_options(command: F) -> F:
    """The storage and block options ``wasm run`` and ``wasm deploy`` share."""
    options = [
        click.option("--storage", default="memory", show_default=True, help="Storage backend."),
        click.option(
            "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Data dir."
        ),
        click.option("--block-number", default=0, show_default=True, type=click.IntRange(min=0)),
        click.option("--timestamp", default=0, show_default=True, type=click.IntRange(min=0)),
        click.option(
            "--gas", default=DEFAULT_GAS_LIMIT, show_default=True, type=click.IntRange(min=0)
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("wasm")
def wasm_group() -> None:
    """Run WebAssembly modules against SuperVM storage."""


@wasm_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("module", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1)
@click.option(
    "--call", "export", metavar="EXPORT", help="Export to call (default with --fn: call)."
)
@click.option("--fn", "fn_name", metavar="NAME", help="ABI function to call (artifacts only).")
@click.option(
    "--args", "abi_args", is_flag=True, help="The ARGS that follow are --fn's ABI arguments."
)
@click.option("--input", "input_hex", default="", metavar="HEX", help="Call data, as hex.")
@_chain_options
@click.option("--caller", default="00" * 20, metavar="HEX", help="Caller address (20 bytes).")
@click.option("--address", default="00" * 20, metavar="HEX", help="Contract address.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.pass_context
def run_command(
    ctx: click.Context,
    module: Path,
    args: tuple[str, ...],
    export: str | None,
    fn_name: str | None,
    abi_args: bool,
    input_hex: str,
    storage: str,
    data_dir: Path | None,
    block_number: int,
    timestamp: int,
    gas: int,
    caller: str,
    address: str,
    as_json: bool,
) -> None:
    """Call EXPORT of MODULE (.wasm, .wat or an artifact .json) with integer ARGS.

    With an artifact, --fn NAME --args A B ... calls an ABI function: the calldata is encoded
    from the ABI and the return data, logs and revert reason are decoded. Successful calls
    commit their writes; with --storage lmdb --data-dir DIR they persist.
    """
    kernel: Kernel = kernel_state(ctx).kernel
    context = _context(caller, address, block_number, timestamp, gas)
    call_input = _hex(input_hex, "--input")
    code, artifact = load_code(module)
    fn = None
    if fn_name is not None:
        if artifact is None:
            raise click.UsageError("--fn needs an artifact (.json) that carries an ABI")
        fn = ethabi.find_function(artifact.abi, fn_name, len(args))
        call_input = ethabi.selector(fn) + ethabi.encode_arguments(fn.get("inputs", ()), args)
        int_args: list[int] = []
        export = export or "call"
    else:
        if abi_args:
            raise click.UsageError("--args goes with --fn")
        if export is None:
            raise click.UsageError("give --call EXPORT (or --fn NAME with an artifact)")
        int_args = [_int(a) for a in args]
    with _storage(kernel, storage, data_dir) as store:
        result = kernel.execute(code, store, context, entry=export, args=int_args, input=call_input)
    data = result_to_json(result)
    lines = describe(result)
    if artifact is not None:
        outcome = decode_outcome(artifact.abi, fn or {}, result)
        data["decoded"] = {
            "values": list(outcome.values),
            "events": [{"event": name, "args": dict(a)} for name, a in outcome.events],
            "revert_reason": outcome.revert_reason,
        }
        lines += [f"returns: {', '.join(map(str, outcome.values))}"] if outcome.values else []
        lines += [
            f"{name}({', '.join(f'{k}={v}' for k, v in a.items())})" for name, a in outcome.events
        ]
        if outcome.revert_reason:
            lines.append(f"revert reason: {outcome.revert_reason}")
    _report(ctx, result, data, lines, as_json)


@wasm_group.command("deploy", context_settings={"ignore_unknown_options": True})
@click.argument("module", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1)
@_chain_options
@click.option("--caller", default="00" * 20, metavar="HEX", help="Deployer address (20 bytes).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.pass_context
def deploy_command(
    ctx: click.Context,
    module: Path,
    args: tuple[str, ...],
    storage: str,
    data_dir: Path | None,
    block_number: int,
    timestamp: int,
    gas: int,
    caller: str,
    as_json: bool,
) -> None:
    """Deploy MODULE (.wasm, .wat or artifact .json) with constructor ARGS; print its address.

    The address is Ethereum's CREATE address of the deployer (--caller) and its nonce. The
    module's optional `deploy` export runs once with the ABI-encoded constructor arguments.
    """
    kernel: Kernel = kernel_state(ctx).kernel
    context = _context(caller, "00" * 20, block_number, timestamp, gas)
    code, artifact = load_code(module)
    constructor_input = b""
    if artifact is not None:
        ctor = ethabi.constructor(artifact.abi)
        constructor_input = ethabi.encode_arguments(ctor.get("inputs", ()) if ctor else (), args)
    elif args:
        raise click.UsageError("constructor arguments need an artifact (.json) with an ABI")
    with _storage(kernel, storage, data_dir) as store:
        deployment = kernel.deploy(code, store, context, input=constructor_input)
    result = deployment.result
    data = {"address": "0x" + deployment.address.hex(), **result_to_json(result)}
    lines = [f"address: 0x{deployment.address.hex()}", *describe(result)]
    if artifact is not None and not result.ok:
        reason = ethabi.decode_revert(result.return_data, artifact.abi)
        if reason:
            lines.append(f"revert reason: {reason}")
    _report(ctx, result, data, lines, as_json)


def _context(caller: str, address: str, block: int, timestamp: int, gas: int) -> ExecutionContext:
    return ExecutionContext(
        block_number=block,
        timestamp=timestamp,
        caller=_hex(caller, "--caller", 20),
        address=_hex(address, "--address", 20),
        gas_limit=gas,
    )


def _storage(kernel: Kernel, name: str, data_dir: Path | None) -> Storage:
    if name == "lmdb" and data_dir is None:
        raise click.UsageError("--storage lmdb needs --data-dir DIR")
    return kernel.open_storage(name, StorageSettings(data_dir=data_dir))


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
