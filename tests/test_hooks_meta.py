"""Every hook is specified properly, tested, and documented in docs/plugins.md.

In the spirit of simonw/llm's ``test_plugin_hooks_have_tests`` and datasette's documentation
tests: adding a hookspec without a test, without a reference entry, or with a reference entry
whose parameters drifted from the code fails here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from supervm.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[1]
PLUGINS_DOC = ROOT / "docs" / "plugins.md"
#: ``supervm_<verb>_<noun>``; noun words may hold digits (``p2p``) after a first letter.
HOOK_NAME = re.compile(r"^supervm_(?P<verb>[a-z]+)_(?P<noun>[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)*)$")
#: A reference heading: ``### `supervm_register_vm(registry)` `` (backticks optional).
DOC_HEADING = re.compile(r"^#{2,4}\s+`?(?P<name>supervm_\w+)\((?P<params>[^)]*)\)`?\s*$", re.M)


def _hookspecs() -> dict[str, Callable[..., object]]:
    marker = f"{hookspecs.PROJECT}_spec"
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, marker)
    }


HOOKS = _hookspecs()


def _params(fn: Callable[..., object]) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _test_sources() -> dict[Path, str]:
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py")]
    this = Path(__file__).resolve()
    return {f: f.read_text(encoding="utf-8") for f in files if f.resolve() != this}


def _documented() -> dict[str, list[list[str]]]:
    """Hook name -> parameter lists of every reference heading for it."""
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    headings: dict[str, list[list[str]]] = {}
    for match in DOC_HEADING.finditer(text):
        params = [
            p.split(":")[0].split("=")[0].strip().lstrip("*")
            for p in match["params"].split(",")
            if p.strip()
        ]
        headings.setdefault(match["name"], []).append(params)
    return headings


def test_hookspecs_are_found() -> None:
    # Guard against the checks below passing vacuously.
    assert len(HOOKS) >= 8
    assert "supervm_register_storage" in HOOKS
    assert "supervm_observe_block" in HOOKS


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_naming(name: str) -> None:
    match = HOOK_NAME.match(name)
    assert match, f"{name} does not follow supervm_<verb>_<noun>"
    if match["verb"] == "register":
        # Register hooks receive exactly one typed registry.
        assert _params(HOOKS[name]) == ["registry"], name


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_docstring_with_params(name: str) -> None:
    fn = HOOKS[name]
    doc = inspect.getdoc(fn)
    assert doc, f"{name} has no docstring"
    summary = doc.splitlines()[0]
    assert summary.strip(), f"{name}: the docstring must start with a summary line"
    for param in _params(fn):
        assert re.search(rf"^:param {param}: \S", doc, re.M), f"{name}: no ':param {param}:'"
    documented = re.findall(r"^:param (\w+):", doc, re.M)
    assert sorted(documented) == sorted(_params(fn)), f"{name}: :param: entries != signature"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_tests(name: str) -> None:
    users = [path for path, text in _test_sources().items() if name in text]
    assert users, f"no test under tests/ or plugins/*/tests/ mentions {name}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_documented(name: str) -> None:
    documented = _documented()
    assert name in documented, f"docs/plugins.md has no heading for {name}"
    assert len(documented[name]) == 1, f"docs/plugins.md documents {name} more than once"
    (params,) = documented[name]
    assert params == _params(HOOKS[name]), (
        f"docs/plugins.md shows {name}({', '.join(params)}), "
        f"the hookspec is {name}({', '.join(_params(HOOKS[name]))})"
    )


def test_documented_hooks_exist() -> None:
    stale = sorted(set(_documented()) - set(HOOKS))
    assert not stale, f"docs/plugins.md documents hooks that do not exist: {stale}"


def test_doc_headings_parse() -> None:
    # The heading regex must see the doc's reference entries, or the checks above mean nothing.
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    reference_headings = re.findall(r"^###\s+`?supervm_\w+", text, re.M)
    assert len(reference_headings) == sum(len(v) for v in _documented().values())
