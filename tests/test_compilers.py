"""The compiler hook, the artifact format and ``supervm compile`` with an inline compiler."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from supervm import Kernel, hookimpl
from supervm.builtins import scheduler_serial
from supervm.cli.main import KernelState, cli
from supervm.errors import CompileError, PluginError
from supervm.plugins.registry import CompilerRegistry
from supervm.tooling.artifacts import (
    ArtifactError,
    artifact_from_json,
    artifact_schema,
    artifact_to_json,
    load_artifact,
    save_artifact,
)
from supervm.tooling.compilers import Artifact, Compiler, CompilerInfo, CompileSettings, keccak_hex

ABI = (
    {
        "type": "function",
        "name": "ping",
        "inputs": [{"name": "x", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
        "stateMutability": "view",
    },
)


class RawWasm(Compiler):
    suffixes = (".wasm",)

    def __init__(self) -> None:
        self.seen: list[CompileSettings] = []

    def compile(self, sources: Sequence[Path], settings: CompileSettings) -> list[Artifact]:
        self.seen.append(settings)
        out = []
        for path in sources:
            code = path.read_bytes()
            if not code.startswith(b"\0asm"):
                raise CompileError(f"{path}:1: not a wasm module")
            out.append(
                Artifact(
                    name=path.stem,
                    kind="wasm",
                    abi=ABI,
                    bytecode=code,
                    code_hash=keccak_hex(code),
                    source_hashes={str(path): keccak_hex(code)},
                    compiler=CompilerInfo("raw", "1.0"),
                    settings={"optimize": settings.optimize},
                )
            )
        return out


class CompilerPlugin:
    def __init__(self) -> None:
        self.compiler = RawWasm()

    @hookimpl
    def supervm_register_compilers(self, registry: CompilerRegistry) -> None:
        registry.add_compiler("raw", self.compiler)


def _kernel(plugin: CompilerPlugin) -> Kernel:
    return Kernel.from_plugins(
        discover=False, env={}, extra=[("scheduler_serial", scheduler_serial), ("raw", plugin)]
    )


def test_compilers_are_registered_and_chosen_by_suffix() -> None:
    plugin = CompilerPlugin()
    registry = _kernel(plugin).compilers()
    assert registry.names() == ["raw"]
    entry = registry.for_path(Path("x.wasm"))
    assert entry is not None and entry.plugin == "raw"
    assert registry.for_path(Path("x.sol")) is None


def test_non_compiler_is_rejected() -> None:
    class Bad:
        @hookimpl
        def supervm_register_compilers(self, registry: CompilerRegistry) -> None:
            registry.add_compiler("bad", object())  # type: ignore[arg-type]

    kernel = Kernel.from_plugins(discover=False, env={}, extra=[("bad", Bad())])
    with pytest.raises(PluginError, match="expected a Compiler"):
        kernel.compilers()


def test_compile_command_writes_schema_valid_artifacts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Token.wasm").write_bytes(b"\0asm\x01\x00\x00\x00")
    (src / "node_modules").mkdir()
    (src / "node_modules" / "Skip.wasm").write_bytes(b"\0asm\x01\x00\x00\x00")
    plugin = CompilerPlugin()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["compile", str(src), "--out", str(out), "--optimize"],
        obj=KernelState((), False, _kernel(plugin)),
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["Token.json"]
    data = json.loads((out / "Token.json").read_text())
    jsonschema.validate(data, artifact_schema())
    assert data["abi"] == [dict(i) for i in ABI]
    assert data["bytecode"] == "0x0061736d01000000"
    assert data["settings"] == {"optimize": True}
    assert plugin.compiler.seen[0].optimize is True


def test_compile_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "Bad.wasm"
    bad.write_bytes(b"nope")
    other = tmp_path / "x.txt"
    other.write_text("hi")
    kernel = _kernel(CompilerPlugin())
    with pytest.raises(CompileError, match=r"Bad\.wasm:1: not a wasm module"):
        CliRunner().invoke(
            cli,
            ["compile", str(bad)],
            obj=KernelState((), False, kernel),
            standalone_mode=False,
            catch_exceptions=False,
        )
    with pytest.raises(CompileError, match="no compiler handles this file type"):
        CliRunner().invoke(
            cli,
            ["compile", str(other)],
            obj=KernelState((), False, kernel),
            standalone_mode=False,
            catch_exceptions=False,
        )


def test_artifact_round_trip(tmp_path: Path) -> None:
    code = b"\0asm\x01\x00\x00\x00"
    artifact = Artifact(
        name="C", kind="evm", abi=ABI, bytecode=code, code_hash=keccak_hex(code),
        source_hashes={"c.sol": keccak_hex(b"x")}, compiler=CompilerInfo("solc", "0.8.37"),
        settings={"evmVersion": "cancun"}, deployed_bytecode=b"\x60\x00",
    )  # fmt: skip
    path = save_artifact(artifact, tmp_path)
    assert load_artifact(path) == artifact
    jsonschema.validate(artifact_to_json(artifact), artifact_schema())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"name": "x"}, "lacks kind"),
        (
            {"name": "x", "kind": "jvm", "abi": [], "bytecode": "0x00", "code_hash": "0x",
             "source_hashes": {}, "compiler": {"name": "a", "version": "1"}},
            "kind must be",
        ),
        (
            {"name": "x", "kind": "wasm", "abi": [], "bytecode": "00", "code_hash": "0x",
             "source_hashes": {}, "compiler": {"name": "a", "version": "1"}},
            "bytecode must be a 0x-hex",
        ),
    ],
)  # fmt: skip
def test_malformed_artifacts_are_named(data: object, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        artifact_from_json(data)


def test_keccak_matches_ethereum() -> None:
    assert keccak_hex(b"") == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def _wat_tree(root: Path) -> Path:
    """A tree with one compiled contract and sources no compiler handles, plus noise."""
    src = root / "src"
    wasm = b"\0asm\x01\x00\x00\x00"
    files: dict[str, bytes] = {
        "Token.wasm": wasm,
        "README.md": b"# docs",
        "Loose.wat": b"(module)",
        "storage-wat/Storage.wat": b"(module)",
        "storage-wat/Storage.abi.json": b"[]",
        "storage-wat/deeper/More.wat": b"(module)",
        "lib/Lib.wasm": wasm,
        "lib/A.wat": b"(module)",
        "lib/B.wat": b"(module)",
        "lib/notes.txt": b"noise",
        "docs/guide.md": b"noise only: not reported",
        "tests/test_token.py": b"noise only: not reported",
        "node_modules/pkg/Dep.wat": b"inside SKIP_DIRS: not reported",
        "build/Old.wat": b"inside SKIP_DIRS: not reported",
        ".hidden/Secret.wat": b"hidden: not reported",
    }
    for name, data in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return src


def test_compile_reports_what_it_skipped(tmp_path: Path) -> None:
    src = _wat_tree(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["compile", str(src), "--out", str(out)],
        obj=KernelState((), False, _kernel(CompilerPlugin())),
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["Lib.json", "Token.json"]
    assert sorted(result.stdout.splitlines()) == [
        f"wrote {out / n}" for n in ("Lib.json", "Token.json")
    ]
    why = "no compiler handles .wat files (known: .wasm)"
    assert result.stderr.splitlines() == [
        f"skipped {src / 'Loose.wat'}: {why}",
        f"skipped {src / 'lib'}/*.wat (2 files): {why}",
        f"skipped {src / 'storage-wat'}/: {why}",
    ]


def test_compile_names_every_unhandled_suffix_of_a_skipped_directory(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "other").mkdir(parents=True)
    (src / "Token.wasm").write_bytes(b"\0asm\x01\x00\x00\x00")
    (src / "other" / "A.wat").write_text("(module)")
    (src / "other" / "B.vy").write_text("# vyper")
    result = CliRunner().invoke(
        cli, ["compile", str(src), "--out", str(tmp_path / "out")],
        obj=KernelState((), False, _kernel(CompilerPlugin())),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"skipped {src / 'other'}/: no compiler handles .vy, .wat files (known: .wasm)\n"
    )


def test_compile_of_nothing_compilable_is_still_an_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Storage.wat").write_text("(module)")
    with pytest.raises(CompileError, match=r"no contract sources \(\.wasm\) found"):
        CliRunner().invoke(
            cli,
            ["compile", str(src)],
            obj=KernelState((), False, _kernel(CompilerPlugin())),
            standalone_mode=False,
            catch_exceptions=False,
        )


class Templated(RawWasm):
    """A compiler with two named project templates; records what ``scaffold`` was asked."""

    language = "raw"
    templates = ("counter", "erc20")

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str | None] = []

    def scaffold(self, name: str, dest: Path, template: str | None = None) -> list[Path]:
        self.asked.append(template)
        path = dest / f"{template}.wasm"
        path.write_bytes(b"\0asm\x01\x00\x00\x00")
        return [path]


class OneTemplate(RawWasm):
    """A compiler written before templates had names: ``scaffold(name, dest)`` only."""

    language = "old"

    def scaffold(self, name: str, dest: Path) -> list[Path]:  # type: ignore[override]
        path = dest / "Only.wasm"
        path.write_bytes(b"\0asm\x01\x00\x00\x00")
        return [path]


class TemplatesPlugin:
    def __init__(self) -> None:
        self.templated = Templated()

    @hookimpl
    def supervm_register_compilers(self, registry: CompilerRegistry) -> None:
        registry.add_compiler("templated", self.templated)
        registry.add_compiler("old", OneTemplate())


def _new(tmp_path: Path, plugin: TemplatesPlugin, *args: str) -> Any:
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("templates", plugin)],
    )
    return CliRunner().invoke(
        cli, ["new", *args, "--dir", str(tmp_path)], obj=KernelState((), False, kernel)
    )


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("my-token", "erc20"),
        ("SuperCoin", "erc20"),
        ("erc20_gold", "erc20"),
        ("my-counter", "counter"),
        ("vault", "counter"),
    ],
)
def test_new_infers_the_template_from_the_name(tmp_path: Path, name: str, template: str) -> None:
    plugin = TemplatesPlugin()
    result = _new(tmp_path, plugin, name, "--lang", "raw")
    assert result.exit_code == 0, result.output
    assert plugin.templated.asked == [template]
    how = "inferred from the name" if template == "erc20" else "the default"
    assert result.stdout.splitlines() == [
        f"template: {template} ({how}; --template counter|erc20)",
        f"created {tmp_path / name / f'{template}.wasm'}",
    ]


def test_new_takes_the_template_given(tmp_path: Path) -> None:
    plugin = TemplatesPlugin()
    result = _new(tmp_path, plugin, "my-token", "--lang", "raw", "--template", "counter")
    assert result.exit_code == 0, result.output
    assert plugin.templated.asked == ["counter"]
    assert (
        result.stdout.splitlines()[0]
        == "template: counter (chosen with --template; known: counter|erc20)"
    )


def test_new_refuses_an_unknown_template_in_one_line(tmp_path: Path) -> None:
    plugin = TemplatesPlugin()
    result = _new(tmp_path, plugin, "my-nft", "--lang", "raw", "--template", "nft")
    assert result.exit_code != 0
    assert result.output == "Error: unknown template 'nft' for --lang raw (known: counter, erc20)\n"
    assert plugin.templated.asked == []
    assert not (tmp_path / "my-nft").exists()


def test_new_still_calls_a_compiler_without_named_templates(tmp_path: Path) -> None:
    result = _new(tmp_path, TemplatesPlugin(), "my-token", "--lang", "old")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "template: the only one for --lang old",
        f"created {tmp_path / 'my-token' / 'Only.wasm'}",
    ]
    refused = _new(tmp_path, TemplatesPlugin(), "other", "--lang", "old", "--template", "erc20")
    assert refused.exit_code != 0
    assert refused.output == "Error: --lang old has no templates to choose from: drop --template\n"
