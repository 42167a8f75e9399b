"""``supervm new NAME --lang sol``: a Solidity contract project, ready to build and test.

Two templates: ``counter`` (a counter with an owner, an event and a custom error) and
``erc20`` (a fixed-supply ERC-20 on OpenZeppelin's ``ERC20``, as ``examples/contracts/erc20-sol``).
"""

from __future__ import annotations

from pathlib import Path

from supervm.tooling.toolchain import contract_name, module_name, write_templates

from .toolchain import PACKAGE

#: Template name -> what its contract is, for the README; the first is the default.
TEMPLATES = {
    "counter": "a counter anyone can increase and only its owner can reset, with storage, an "
    "event and a custom error",
    "erc20": "a fixed-supply ERC-20 token on OpenZeppelin's `ERC20` (its ABI is exactly "
    "OpenZeppelin's); the constructor `(string name_, string symbol_, uint256 initialSupply)` "
    "mints the supply to the deployer",
}


def write_project(project: str, dest: Path, template: str = "counter") -> list[Path]:
    """Write ``contracts/<Name>.sol``, ``tests/test_<name>.py`` and ``README.md`` into ``dest``."""
    if template not in TEMPLATES:
        known = ", ".join(TEMPLATES)
        raise ValueError(f"unknown template {template!r} for Solidity (known: {known})")
    contract = contract_name(project)
    module = module_name(contract)
    values = {
        "project": project,
        "contract": contract,
        "module": module,
        "summary": TEMPLATES[template],
    }
    files = {
        dest / "contracts" / f"{contract}.sol": f"{template}/Contract.sol.tmpl",
        dest / "tests" / f"test_{module}.py": f"{template}/test_contract.py.tmpl",
        dest / "README.md": "README.md.tmpl",
    }
    return write_templates(PACKAGE, files, values)
