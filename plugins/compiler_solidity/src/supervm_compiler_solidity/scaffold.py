"""``supervm new NAME --lang sol``: a Solidity contract project, ready to build and test."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from .toolchain import PACKAGE


def contract_name(project: str) -> str:
    """The Solidity contract name for a project name: ``my-token`` -> ``MyToken``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", project) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Contract"
    return name if name[0].isalpha() else f"C{name}"


def module_name(contract: str) -> str:
    """snake_case of a contract name, for its test module: ``MyToken`` -> ``my_token``."""
    return re.sub(r"(?<=[0-9a-z])(?=[A-Z])", "_", contract).lower()


def _template(name: str) -> Template:
    return Template(resources.files(PACKAGE).joinpath("templates", name).read_text())


def write_project(project: str, dest: Path) -> list[Path]:
    """Write ``contracts/<Name>.sol``, ``tests/test_<name>.py`` and ``README.md`` into ``dest``."""
    contract = contract_name(project)
    module = module_name(contract)
    values = {"project": project, "contract": contract, "module": module}
    files = {
        dest / "contracts" / f"{contract}.sol": "Contract.sol.tmpl",
        dest / "tests" / f"test_{module}.py": "test_contract.py.tmpl",
        dest / "README.md": "README.md.tmpl",
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_template(template).substitute(values))
    return list(files)
