"""``supervm new NAME --lang as``: an AssemblyScript contract project, ready to build and test."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

PACKAGE = "supervm_compiler_assemblyscript"


def contract_name(project: str) -> str:
    """The contract class name for a project name: ``my-counter`` -> ``MyCounter``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", project) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Contract"
    return name if name[0].isalpha() else f"C{name}"


def module_name(contract: str) -> str:
    """snake_case of a contract name, for its test module: ``MyCounter`` -> ``my_counter``."""
    return re.sub(r"(?<=[0-9a-z])(?=[A-Z])", "_", contract).lower()


def _template(name: str) -> Template:
    return Template(resources.files(PACKAGE).joinpath("templates", name).read_text())


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
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_template(template).substitute(values))
    return list(files)
