"""``supervm new NAME --lang sol``: a Solidity contract project, ready to build and test."""

from __future__ import annotations

from pathlib import Path

from supervm.toolchain import contract_name, module_name, write_templates

from .toolchain import PACKAGE


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
    return write_templates(PACKAGE, files, values)
