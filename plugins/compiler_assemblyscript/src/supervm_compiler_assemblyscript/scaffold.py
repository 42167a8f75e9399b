"""``supervm new NAME --lang as``: an AssemblyScript contract project, ready to build and test."""

from __future__ import annotations

import re
from pathlib import Path

from supervm.toolchain import contract_name, module_name, write_templates

PACKAGE = "supervm_compiler_assemblyscript"


def write_project(project: str, dest: Path) -> list[Path]:
    """Write package.json, assembly/index.ts, tests/ and README.md into ``dest``."""
    contract = contract_name(project)
    module = module_name(contract)
    package = re.sub(r"[^a-z0-9._-]+", "-", project.lower()).strip("-._") or "contract"
    values = {"project": project, "package": package, "contract": contract, "module": module}
    files = {
        dest / "package.json": "package.json.tmpl",
        dest / "assembly" / "index.ts": "index.ts.tmpl",
        dest / "assembly" / "tsconfig.json": "tsconfig.json.tmpl",
        dest / "tests" / f"test_{module}.py": "test_contract.py.tmpl",
        dest / "README.md": "README.md.tmpl",
        dest / ".gitignore": "gitignore.tmpl",
    }
    return write_templates(PACKAGE, files, values)
