"""The AssemblyScript compiler plugin: entry files, asc's errors, validation, artifacts, CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import supervm_compiler_assemblyscript
from click.testing import CliRunner
from supervm import ExecutionContext, Kernel
from supervm.builtins import scheduler_serial
from supervm.cli.main import KernelState, cli
from supervm.errors import CompileError, ToolchainError
from supervm.execution.wasm_binary import END_MARKER
from supervm.tooling.artifacts import artifact_schema, load_artifact
from supervm.tooling.compilers import Artifact, CompileSettings, keccak_hex
from supervm.tooling.contracts import Contract
from supervm_compiler_assemblyscript import AssemblyScriptCompiler, toolchain, wasm
from supervm_compiler_assemblyscript.compiler import entry_kind

REPO = Path(__file__).resolve().parents[3]
NODE_MODULES = REPO / "node_modules"
EXAMPLES = REPO / "examples" / "contracts"

HEADER = 'import { Address, Context, StorageValue } from "@supervm/sdk";\n'
MINIMAL = (
    HEADER
    + """
@contract
class Minimal {
  @view hello(): u32 { return 42; }
}
"""
)


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project directory (with a package.json, so it is asc's base directory)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "package.json").write_text('{"name": "t", "private": true}\n')
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def compile_error(
    compiler: AssemblyScriptCompiler, paths: list[Path], settings: CompileSettings
) -> str:
    with pytest.raises(CompileError) as info:
        compiler.compile(paths, settings)
    return str(info.value)


# -- registration and entry files ---------------------------------------------------------------


def test_the_plugin_registers_the_compiler() -> None:
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial),
               ("compiler_assemblyscript", supervm_compiler_assemblyscript)],
    )  # fmt: skip
    registry = kernel.compilers()
    entry = registry.for_path(Path("assembly/index.ts"))
    assert entry is not None and entry.name == "assemblyscript"
    assert entry.plugin == "compiler_assemblyscript"
    assert entry.value.language == "as"
    assert registry.for_path(Path("types.d.ts")) is None
    assert registry.for_path(Path("x.sol")) is None


def test_entry_files_are_recognised() -> None:
    assert entry_kind("@contract\nclass A {}") == "contract"
    assert entry_kind("  @contract class A {}") == "contract"
    assert entry_kind("export function call(): void {}") == "raw"
    assert entry_kind("// @contract\nexport function helper(): void {}") is None
    assert entry_kind("/* @contract */ export class Lib {}") is None
    assert entry_kind("export function caller(): void {}") is None


def test_library_files_are_skipped(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    root = project(tmp_path, {
        "assembly/index.ts": HEADER + 'import { double } from "./lib";\n@contract\nclass C {\n'
                             "  @pure twice(x: u32): u32 { return double(x); }\n}\n",
        "assembly/lib.ts": "export function double(x: u32): u32 { return 2 * x; }\n",
        "assembly/types.d.ts": "declare const x: i32;\n",
    })  # fmt: skip
    files = sorted((root / "assembly").iterdir())
    artifacts = compiler.compile(files, settings)
    assert [a.name for a in artifacts] == ["C"]
    (artifact,) = artifacts
    assert set(artifact.source_hashes) == {
        str(root / "assembly/index.ts"),
        str(root / "assembly/lib.ts"),
    }
    lib = root / "assembly" / "lib.ts"
    assert artifact.source_hashes[str(lib)] == keccak_hex(lib.read_bytes())
    message = compile_error(compiler, [lib], settings)
    assert "no contract found" in message and "@contract" in message


def test_hand_written_entries_compile_with_an_empty_abi(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings, kernel: Kernel
) -> None:
    source = (
        '@external("supervm", "set_return")\n'
        "declare function set_return(p: usize, n: usize): void;\n"
        "export function call(): void { store<u32>(64, 7); set_return(64, 4); }\n"
    )
    root = project(tmp_path, {"raw.ts": source})
    (artifact,) = compiler.compile([root / "raw.ts"], settings)
    assert artifact.name == "raw"
    assert artifact.abi == ()
    result = kernel.execute(artifact.bytecode, kernel.open_storage("memory"), ExecutionContext())
    assert result.ok and result.return_data == (7).to_bytes(4, "little")


# -- artifacts ------------------------------------------------------------------------------------


def test_artifacts_are_complete_and_deterministic(
    erc20: Artifact, compiler: AssemblyScriptCompiler, settings: CompileSettings, tmp_path: Path
) -> None:
    assert erc20.code_hash == keccak_hex(erc20.bytecode)
    assert erc20.compiler.name == "assemblyscript"
    assert re.fullmatch(r"\d+\.\d+\.\d+", erc20.compiler.version)
    assert erc20.settings["runtime"] == "stub"
    assert erc20.settings["optimizeLevel"] == 3
    assert erc20.settings["optimize"] is False
    source = EXAMPLES / "erc20-as" / "assembly" / "index.ts"
    assert erc20.source_hashes == {str(source): keccak_hex(source.read_bytes())}
    # No custom sections (names, the ABI) but the end marker, no start function, only the
    # contract's exports.
    sections = wasm.sections(erc20.bytecode)
    assert not any(s.id == wasm.START for s in sections)
    assert list(wasm.custom_sections(erc20.bytecode)) == [END_MARKER]
    assert sections[-1].id == wasm.CUSTOM  # the marker ends the module
    assert {e.name for e in wasm.exports(erc20.bytecode)} == {"call", "deploy", "memory"}
    assert {i.module for i in wasm.imports(erc20.bytecode)} == {"supervm"}
    # The same sources give the same bytes, wherever the project is.
    copy = tmp_path / "elsewhere" / "erc20-as"
    shutil.copytree(EXAMPLES / "erc20-as", copy, ignore=shutil.ignore_patterns("build"))
    (again,) = compiler.compile([copy / "assembly" / "index.ts"], settings)
    assert again.bytecode == erc20.bytecode
    assert again.code_hash == erc20.code_hash


def test_two_contracts_with_the_same_name_are_refused(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    root = project(tmp_path, {"a/index.ts": MINIMAL, "b/index.ts": MINIMAL})
    message = compile_error(compiler, [root / "a/index.ts", root / "b/index.ts"], settings)
    assert "both define a contract named Minimal" in message


def test_optimize_runs_wasm_opt(erc20_optimized: Artifact) -> None:
    assert erc20_optimized.settings["optimize"] is True
    assert erc20_optimized.settings["wasmOpt"]["flags"] == ["-O3"]
    assert erc20_optimized.settings["wasmOpt"]["binaryen"]
    assert not any(s.id == wasm.START for s in wasm.sections(erc20_optimized.bytecode))
    assert list(wasm.custom_sections(erc20_optimized.bytecode)) == [END_MARKER]


def test_compiler_options(tmp_path: Path, compiler: AssemblyScriptCompiler) -> None:
    root = project(tmp_path, {"assembly/index.ts": MINIMAL})
    options = {"optimize_level": "0", "shrink_level": "2", "no_assert": "true"}
    (artifact,) = compiler.compile(
        [root / "assembly/index.ts"], CompileSettings(node_modules=NODE_MODULES, options=options)
    )
    assert (artifact.settings["optimizeLevel"], artifact.settings["shrinkLevel"]) == (0, 2)
    assert artifact.settings["noAssert"] is True
    with pytest.raises(CompileError, match="optimize_level must be an integer from 0 to 3"):
        compiler.compile(
            [root / "assembly/index.ts"],
            CompileSettings(node_modules=NODE_MODULES, options={"optimize_level": "9"}),
        )


def test_top_level_code_runs_as_initialize(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings, kernel: Kernel
) -> None:
    root = project(tmp_path, {"assembly/index.ts": HEADER + """
const GREETING = "hi " + Context.blockNumber.toString();
@contract
class Greeter {
  @view greet(): string { return GREETING; }
}
"""})  # fmt: skip
    (artifact,) = compiler.compile([root / "assembly/index.ts"], settings)
    assert wasm.INITIALIZE in {e.name for e in wasm.exports(artifact.bytecode)}
    contract = Contract(kernel, artifact, kernel.open_storage("memory"))
    assert contract.deploy(ExecutionContext()).ok
    assert contract.call("greet", block_number=12).value == "hi 12"


# -- errors ---------------------------------------------------------------------------------------


def test_syntax_errors_show_ascs_message_with_file_and_line(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    root = project(tmp_path, {"assembly/index.ts": MINIMAL.replace("return 42;", "return 42 +;")})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    line = MINIMAL.splitlines().index("  @view hello(): u32 { return 42; }") + 1
    assert re.search(rf"index\.ts:{line}:\d+: ERROR TS1109: Expression expected\.", message), (
        message
    )


def test_type_errors_show_ascs_message_with_file_and_line(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = MINIMAL.replace("return 42;", 'return "x";')
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert re.search(r"assembly/index\.ts:\d+:\d+: ERROR TS2322: Type '~lib/string/String' is not "
                     r"assignable to type 'u32'", message), message  # fmt: skip


def test_errors_in_imported_files_name_that_file(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    index = (
        HEADER
        + 'import { f } from "./lib";\n@contract\nclass C { @pure g(): u32 { return f(); } }\n'
    )
    lib = "export function f(): u32 {\n  return undefinedThing;\n}\n"
    root = project(tmp_path, {"assembly/index.ts": index, "assembly/lib.ts": lib})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert re.search(
        r"assembly/lib\.ts:2:10: ERROR TS2304: Cannot find name 'undefinedThing'", message
    ), message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@pure f(x: f64): u32 { return 0; }",
         r"index\.ts:\d+:\d+: ERROR AS109: Transform '@supervm/sdk': "
         r"parameter x: type f64 has no ABI type"),
        ("@pure f(): Array<u32> { return []; }", r"arrays \(Array<u32>\) are not supported"),
        ("@pure f(x: string | null): u32 { return 0; }",
         r"nullable type string\|null has no ABI type"),
        ("@payable f(): void {}", r"@payable is not supported"),
        ("@deploy a(): void {}\n  @deploy b(): void {}", r"only one @deploy method"),
        ("@deploy a(): u32 { return 1; }", r"@deploy method a must return void"),
        ("@view @pure f(): void {}", r"choose one of @view, @pure"),
        ("constructor(x: u32) {}", r"constructor of @contract class C cannot take parameters"),
        ("@pure f(x: uint7): void {}", r"uint7 is not an ABI integer type"),
    ],
)  # fmt: skip
def test_contract_declaration_errors(
    tmp_path: Path,
    compiler: AssemblyScriptCompiler,
    settings: CompileSettings,
    body: str,
    expected: str,
) -> None:
    text = HEADER + "@contract\nclass C {\n  " + body + "\n}\n"
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert re.search(expected, message), message


def test_event_declaration_errors(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = (
        HEADER
        + "@event declare function E(a: Indexed<u8>, b: Indexed<u8>, c: Indexed<u8>,"
        + " d: Indexed<u8>): void;\n"
        + MINIMAL.replace(HEADER, "")
    )
    root = project(tmp_path, {"assembly/index.ts": text})
    assert "has more than 3 indexed parameters" in compile_error(
        compiler, [root / "assembly/index.ts"], settings
    )
    text = HEADER + "@event function E(a: u8): void {}\n" + MINIMAL.replace(HEADER, "")
    (root / "assembly/index.ts").write_text(text)
    assert "must be a declaration" in compile_error(
        compiler, [root / "assembly/index.ts"], settings
    )


def test_two_contracts_in_one_file(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = MINIMAL + "@contract\nclass Other { @pure x(): u8 { return 1; } }\n"
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert "only one @contract class per entry file (found Minimal and Other)" in message


def test_unknown_host_functions_fail_validation(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = (
        HEADER
        + '@external("supervm", "nope") declare function nope(): i32;\n'
        + MINIMAL.replace(HEADER, "").replace("return 42;", "return nope();")
    )
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert message.endswith(
        "the contract imports unknown host function supervm.nope: no enabled plugin defines it"
    )
    assert message.startswith(str(root / "assembly/index.ts"))
    # A plugin's host function is fine when the kernel says it exists.
    text = text.replace('"supervm", "nope"', '"hello", "nope"')
    (root / "assembly/index.ts").write_text(text)
    known = frozenset({("hello", "nope"), ("supervm", "input_len"), ("supervm", "read_input"),
                       ("supervm", "set_return"), ("supervm", "revert")})  # fmt: skip
    with_plugin = CompileSettings(node_modules=NODE_MODULES, known_imports=known)
    (artifact,) = compiler.compile([root / "assembly/index.ts"], with_plugin)
    assert ("hello", "nope") in {(i.module, i.name) for i in wasm.imports(artifact.bytecode)}
    # ...and not when it does not.
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert "unknown host function hello.nope" in message


def test_env_imports_get_a_hint(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = MINIMAL.replace("return 42;", 'trace("debug"); return 42;')
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert "unknown host function env.trace" in message and "remove them" in message


def test_wrong_host_function_signatures_fail_validation(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = (
        HEADER
        + '@external("supervm", "input_len") declare function len64(): i64;\n'
        + MINIMAL.replace(HEADER, "").replace("return 42;", "return <u32>len64();")
    )
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert "imports supervm.input_len as () -> i64, but the host defines () -> i32" in message


def test_extra_exports_fail_validation(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    text = MINIMAL + "export function backdoor(x: i32): i32 { return x; }\n"
    root = project(tmp_path, {"assembly/index.ts": text})
    message = compile_error(compiler, [root / "assembly/index.ts"], settings)
    assert (
        "the contract exports function 'backdoor'; a contract exports only call, deploy and memory"
        in message
    )


def test_a_call_export_with_parameters_fails_validation(
    tmp_path: Path, compiler: AssemblyScriptCompiler, settings: CompileSettings
) -> None:
    root = project(tmp_path, {"raw.ts": "export function call(x: i32): i32 { return x; }\n"})
    message = compile_error(compiler, [root / "raw.ts"], settings)
    assert "export 'call' must take and return nothing, not (i32) -> i32" in message


# -- toolchain ------------------------------------------------------------------------------------


def test_missing_node_is_a_toolchain_error(
    tmp_path: Path,
    compiler: AssemblyScriptCompiler,
    settings: CompileSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project(tmp_path, {"assembly/index.ts": MINIMAL})
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError, match=r"Node\.js is needed .* run `make install`"):
        compiler.compile([root / "assembly/index.ts"], settings)


def test_missing_npm_packages_are_toolchain_errors(
    tmp_path: Path, compiler: AssemblyScriptCompiler, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    root = project(outside, {"assembly/index.ts": MINIMAL})
    monkeypatch.chdir(outside)
    empty = tmp_path / "node_modules_empty"
    empty.mkdir()
    with pytest.raises(
        ToolchainError, match=r"npm package assemblyscript\) was not found .*make install"
    ):
        compiler.compile([root / "assembly/index.ts"], CompileSettings(node_modules=empty))
    no_sdk = tmp_path / "node_modules_no_sdk"
    (no_sdk / "assemblyscript" / "dist").mkdir(parents=True)
    (no_sdk / "assemblyscript" / "dist" / "asc.js").write_text("")
    with pytest.raises(ToolchainError, match=r"the @supervm/sdk npm package is missing"):
        compiler.compile([root / "assembly/index.ts"], CompileSettings(node_modules=no_sdk))


def test_missing_binaryen_is_a_toolchain_error_only_when_optimizing(
    tmp_path: Path, compiler: AssemblyScriptCompiler, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", {"assembly/index.ts": MINIMAL})
    modules = tmp_path / "node_modules"
    modules.mkdir()
    for name in ("assemblyscript", "as-bignum", "long", "@supervm"):
        (modules / name).symlink_to(NODE_MODULES / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path / "p")
    plain = CompileSettings(node_modules=modules)
    assert compiler.compile([root / "assembly/index.ts"], plain)
    with pytest.raises(ToolchainError, match=r"wasm-opt \(npm package binaryen\) is missing"):
        compiler.compile(
            [root / "assembly/index.ts"], CompileSettings(node_modules=modules, optimize=True)
        )


# -- the command line -----------------------------------------------------------------------------


def test_supervm_compile_writes_schema_valid_artifacts(tmp_path: Path, kernel: Kernel) -> None:
    out = tmp_path / "build"
    result = CliRunner().invoke(
        cli,
        ["compile", str(EXAMPLES / "counter-as"), str(EXAMPLES / "erc20-as"), "--out", str(out),
         "--node-modules", str(NODE_MODULES)],
        obj=KernelState((), False, kernel),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["Counter.json", "ERC20.json"]
    for path in out.iterdir():
        data = json.loads(path.read_text())
        jsonschema.validate(data, artifact_schema())
        artifact = load_artifact(path)
        assert artifact.kind == "wasm" and artifact.bytecode.startswith(b"\0asm")


def test_supervm_compile_reports_errors(tmp_path: Path, kernel: Kernel) -> None:
    root = project(tmp_path, {"assembly/index.ts": MINIMAL.replace("return 42;", "return 42 +;")})
    with pytest.raises(CompileError, match=r"index\.ts:\d+:\d+: ERROR TS1109"):
        CliRunner().invoke(
            cli,
            ["compile", str(root), "--node-modules", str(NODE_MODULES)],
            obj=KernelState((), False, kernel),
            standalone_mode=False,
            catch_exceptions=False,
        )


def test_compile_via_the_kernels_known_imports(kernel: Kernel, erc20: Any) -> None:
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    from supervm_compiler_assemblyscript.hostabi import DOCUMENTED_IMPORTS

    assert known >= DOCUMENTED_IMPORTS
    assert os.environ.get("SUPERVM_CACHE_DIR")
