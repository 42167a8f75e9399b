"""``supervm compile``: sources in, one artifact JSON per contract out."""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs
import click

from supervm.cli.state import kernel_state
from supervm.errors import CompileError
from supervm.plugins.registry import CompilerRegistry
from supervm.tooling.artifacts import save_artifact
from supervm.tooling.compilers import Compiler, CompileSettings

#: Directories never searched for sources.
SKIP_DIRS = {"node_modules", ".venv", "build", "artifacts", ".git", "__pycache__"}

#: Suffixes of files that accompany contracts (docs, configs, scripts, tests, data): when no
#: compiler handles them they are left out silently, not reported as skipped.
NOISE_SUFFIXES = frozenset(
    {
        # docs, configs and data
        ".md", ".markdown", ".rst", ".txt", ".json", ".jsonc", ".json5", ".lock", ".toml",
        ".yaml", ".yml", ".ini", ".cfg", ".conf", ".env", ".csv", ".xml", ".log", ".html",
        ".css", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf",
        # tests, scripts and build leftovers
        ".py", ".pyi", ".pyc", ".typed", ".js", ".mjs", ".cjs", ".map", ".tsbuildinfo", ".sh",
        ".bash", ".ps1", ".bat",
    }
)  # fmt: skip


@attrs.frozen
class Sources:
    """What a search for contract sources found.

    :param groups: compiler name -> the files it compiles, in search order.
    :param skipped: one line per directory or group of files that looked like sources but
        that no compiler handles, e.g. ``skipped contracts/storage-wat/: no compiler handles
        .wat files (known: .sol, .ts)``.
    """

    groups: Mapping[str, list[Path]]
    skipped: tuple[str, ...]


def _is_noise(rel: Path, suffixes: Iterable[str]) -> bool:
    """Whether an unhandled file (``rel``, relative to the searched directory) is noise."""
    if any(part.startswith(".") for part in rel.parts):
        return True  # hidden files and directories (.gitignore, .github/, ...)
    if not rel.suffix or rel.suffix.lower() in NOISE_SUFFIXES:
        return True  # LICENSE, Makefile, README.md, package.json, tests/test_x.py, ...
    # A file of a known type that its compiler declines (a .d.ts declaration) is its choice.
    return rel.suffix in suffixes


def _skipped(root: Path, handled: list[Path], unhandled: list[Path], known: str) -> list[str]:
    """Describe the ``unhandled`` source files under ``root``: one line per directory in which
    nothing was compiled (its topmost such directory), or per suffix group of files beside
    compiled ones."""
    live = {root}
    for file in handled:
        live.update(file.parents)
    groups: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for file in unhandled:
        rel = file.relative_to(root)
        dead = [root.joinpath(*rel.parts[:n]) for n in range(1, len(rel.parts))]
        top = next((d for d in dead if d not in live), None)
        groups[(top, "") if top is not None else (file.parent, file.suffix)].append(file)
    lines = []
    for (where, suffix), files in sorted(groups.items(), key=lambda g: (g[0][0].parts, g[0][1])):
        types = ", ".join(sorted({f.suffix for f in files}))
        if not suffix:
            what = f"{where}{os.sep}"
        elif len(files) == 1:
            what = str(files[0])
        else:
            what = f"{where}{os.sep}*{suffix} ({len(files)} files)"
        lines.append(f"skipped {what}: no compiler handles {types} files (known: {known})")
    return lines


def _sources(paths: tuple[Path, ...], registry: CompilerRegistry) -> Sources:
    """Group source files by the compiler that handles them, and say what was skipped."""
    groups: dict[str, list[Path]] = defaultdict(list)
    skipped: list[str] = []
    suffixes = sorted({s for e in registry.entries() for s in e.value.suffixes})
    known = ", ".join(suffixes) or "none: no compiler plugin is enabled"
    for path in paths:
        if path.is_dir():
            files: list[Path] = []
            unhandled: list[Path] = []
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path)
                if not p.is_file() or SKIP_DIRS.intersection(rel.parts[:-1]):
                    continue
                if registry.for_path(p) is not None:
                    files.append(p)
                elif not _is_noise(rel, suffixes):
                    unhandled.append(p)
            if not files:
                raise CompileError(f"{path}: no contract sources ({', '.join(suffixes)}) found")
            skipped.extend(_skipped(path, files, unhandled, known))
        else:
            files = [path]
        for file in files:
            entry = registry.for_path(file)
            if entry is None:
                raise CompileError(f"{file}: no compiler handles this file type (known: {known})")
            groups[entry.name].append(file)
    return Sources(groups, tuple(skipped))


def compile_paths(
    registry: CompilerRegistry,
    paths: tuple[Path, ...],
    settings: CompileSettings,
    out: Path,
    *,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Compile every source under ``paths``; write and return the artifact files.

    ``report`` is given one line for each directory or group of files under ``paths`` that
    looks like contract sources but that no compiler handles (it is skipped), before
    anything is compiled.
    """
    sources = _sources(paths, registry)
    if report is not None:
        for line in sources.skipped:
            report(line)
    written: list[Path] = []
    for name, files in sources.groups.items():
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
    """Compile contracts (AssemblyScript .ts, Solidity .sol) into artifacts in --out.

    Directories are searched (skipping node_modules, build, .venv, ...); what no compiler
    handles is skipped with a line on stderr saying so.
    """
    kernel = kernel_state(ctx).kernel
    registry = kernel.compilers()
    known = frozenset((f.module, f.name) for f in kernel.host_functions())
    settings = CompileSettings(optimize=optimize, node_modules=node_modules, known_imports=known)
    # What no compiler handles is skipped, but said on stderr (one line per directory).
    report = functools.partial(click.echo, err=True)
    for path in compile_paths(registry, paths, settings, out, report=report):
        click.echo(f"wrote {path}")


#: Words in a project name that make ``supervm new`` pick the ``erc20`` template.
TOKEN_WORDS = ("token", "erc20", "coin")


def choose_template(compiler: Compiler, lang: str, name: str, given: str | None) -> tuple[str, str]:
    """The template ``supervm new`` uses and the line that says so.

    ``given`` (``--template``) must be one of the compiler's :attr:`~Compiler.templates`;
    without it a name containing one of :data:`TOKEN_WORDS` picks ``erc20`` (if the compiler
    has it) and anything else the compiler's default, its first template. The template is
    ``""`` for a compiler without named templates.
    """
    templates = compiler.templates
    if not templates:
        if given is not None:
            raise click.ClickException(
                f"--lang {lang} has no templates to choose from: drop --template"
            )
        return "", f"template: the only one for --lang {lang}"
    choices = "|".join(templates)
    if given is not None:
        if given not in templates:
            known = ", ".join(templates)
            raise click.ClickException(
                f"unknown template {given!r} for --lang {lang} (known: {known})"
            )
        return given, f"template: {given} (chosen with --template; known: {choices})"
    if "erc20" in templates and any(word in name.lower() for word in TOKEN_WORDS):
        return "erc20", f"template: erc20 (inferred from the name; --template {choices})"
    return templates[0], f"template: {templates[0]} (the default; --template {choices})"


@click.command("new")
@click.argument("name")
@click.option(
    "--lang",
    help="Contract language: as (AssemblyScript) or sol. May be left out when --template names "
    "a template only one language has (hardhat).",
)
@click.option(
    "--template",
    help="Project template: counter, erc20, or (--lang as) hardhat, a Hardhat 2 project. "
    "Default: erc20 if NAME contains "
    + ", ".join(repr(w) for w in TOKEN_WORDS)
    + ", else counter.",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the project directory NAME.",
)
@click.pass_context
def new_command(
    ctx: click.Context, name: str, lang: str | None, template: str | None, parent: Path
) -> None:
    """Create a contract project NAME from a template, ready to build and test."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits, '-' and '_'", param_hint="NAME")
    registry = kernel_state(ctx).kernel.compilers()
    compilers = {e.value.language: e.value for e in registry.entries() if e.value.language}
    if lang is None:
        # `supervm new my-dapp --template hardhat`: the template alone says the language.
        having = sorted(k for k, c in compilers.items() if template in c.templates)
        if template is None or len(having) != 1:
            raise click.UsageError(
                "Missing option '--lang' (known: " + (", ".join(sorted(compilers)) or "none") + ")"
            )
        lang = having[0]
    compiler = compilers.get(lang)
    if compiler is None:
        known = ", ".join(sorted(compilers)) or "none: no compiler plugin is enabled"
        raise click.BadParameter(f"unknown language {lang!r} (known: {known})", param_hint="--lang")
    chosen, line = choose_template(compiler, lang, name, template)
    dest = parent / name
    if dest.exists() and any(dest.iterdir()):
        raise click.UsageError(f"{dest} exists and is not empty")
    click.echo(line)
    dest.mkdir(parents=True, exist_ok=True)
    # Compilers without named templates may predate the parameter: call them without it.
    written = compiler.scaffold(name, dest, chosen) if chosen else compiler.scaffold(name, dest)
    for path in written:
        click.echo(f"created {path}")
