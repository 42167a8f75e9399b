"""``supervm compile``: sources in, one artifact JSON per contract out."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click

from ..artifacts import save_artifact
from ..compilers import Compiler, CompileSettings
from ..errors import CompileError
from ..registry import CompilerRegistry
from .state import kernel_state

#: Directories never searched for sources.
SKIP_DIRS = {"node_modules", ".venv", "build", "artifacts", ".git", "__pycache__"}


def _sources(paths: tuple[Path, ...], registry: CompilerRegistry) -> dict[str, list[Path]]:
    """Group source files by the compiler that handles them."""
    groups: dict[str, list[Path]] = defaultdict(list)
    suffixes = sorted({s for e in registry.entries() for s in e.value.suffixes})
    for path in paths:
        if path.is_dir():
            files = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not SKIP_DIRS.intersection(p.relative_to(path).parts[:-1])
                and registry.for_path(p) is not None
            ]
            if not files:
                raise CompileError(f"{path}: no contract sources ({', '.join(suffixes)}) found")
        else:
            files = [path]
        for file in files:
            entry = registry.for_path(file)
            if entry is None:
                known = ", ".join(suffixes) or "none: no compiler plugin is enabled"
                raise CompileError(f"{file}: no compiler handles this file type (known: {known})")
            groups[entry.name].append(file)
    return groups


def compile_paths(
    registry: CompilerRegistry, paths: tuple[Path, ...], settings: CompileSettings, out: Path
) -> list[Path]:
    """Compile every source under ``paths``; write and return the artifact files."""
    written: list[Path] = []
    for name, files in _sources(paths, registry).items():
        compiler: Compiler = registry.get(name)
        for artifact in compiler.compile(files, settings):
            written.append(save_artifact(artifact, out))
    return written


@click.command("compile")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Directory for the artifact JSON files.",
)
@click.option("--optimize", is_flag=True, help="Optimise (wasm-opt for WASM, solc's optimiser).")
@click.option(
    "--node-modules",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Where the npm toolchain is installed (default: searched upwards).",
)
@click.pass_context
def compile_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    out: Path,
    optimize: bool,
    node_modules: Path | None,
) -> None:
    """Compile contracts (AssemblyScript .ts, Solidity .sol) into artifacts in --out."""
    kernel = kernel_state(ctx).kernel
    registry = kernel.compilers()
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    settings = CompileSettings(optimize=optimize, node_modules=node_modules, known_imports=known)
    for path in compile_paths(registry, paths, settings, out):
        click.echo(f"wrote {path}")


@click.command("new")
@click.argument("name")
@click.option("--lang", required=True, help="Contract language: as (AssemblyScript) or sol.")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the project directory NAME.",
)
@click.pass_context
def new_command(ctx: click.Context, name: str, lang: str, parent: Path) -> None:
    """Create a contract project NAME from a template, ready to build and test."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits, '-' and '_'", param_hint="NAME")
    registry = kernel_state(ctx).kernel.compilers()
    compilers = {e.value.language: e.value for e in registry.entries() if e.value.language}
    compiler = compilers.get(lang)
    if compiler is None:
        known = ", ".join(sorted(compilers)) or "none: no compiler plugin is enabled"
        raise click.BadParameter(f"unknown language {lang!r} (known: {known})", param_hint="--lang")
    dest = parent / name
    if dest.exists() and any(dest.iterdir()):
        raise click.UsageError(f"{dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    for path in compiler.scaffold(name, dest):
        click.echo(f"created {path}")
