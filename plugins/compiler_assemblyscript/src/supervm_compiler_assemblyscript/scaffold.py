"""``supervm new NAME --lang as``: an AssemblyScript contract project, ready to build and test.

Three templates: ``counter`` (a counter with an owner, an event and a custom error),
``erc20`` (an ERC20 token with OpenZeppelin's ABI, as ``examples/contracts/erc20-as``) and
``hardhat`` (a Hardhat 2 project with that ERC20 as ``contracts/Token.ts``, a deploy script and
mocha tests, built with ``@supervm/hardhat-plugin``).
"""

from __future__ import annotations

import re
from pathlib import Path

from supervm.tooling.toolchain import contract_name, module_name, write_templates

PACKAGE = "supervm_compiler_assemblyscript"

#: Template name -> what its contract is, for the README; the first is the default.
TEMPLATES = {
    "counter": "A counter with an owner: anyone may `increase` it, only the deployer may "
    "`reset` it.",
    "erc20": "An ERC20 token with exactly OpenZeppelin's ABI (`name`, `symbol`, `decimals`, "
    "`totalSupply`, `balanceOf`, `transfer`, `allowance`, `approve`, `transferFrom`, events "
    "`Transfer` and `Approval`); the constructor `(string name, string symbol, uint256 "
    "initialSupply)` mints the supply to the deployer.",
    "hardhat": "A Hardhat 2 project: the ERC20 as `contracts/Token.ts`, compiled by "
    "`@supervm/hardhat-plugin`, with a deploy script and mocha tests run by "
    "`npx hardhat test --network supervm`.",
}

#: The Hardhat template's contract: `ethers.getContractFactory("Token")` in its tests.
HARDHAT_CONTRACT = "Token"


def write_project(project: str, dest: Path, template: str = "counter") -> list[Path]:
    """Write package.json, assembly/index.ts, tests/ and README.md into ``dest`` (for
    ``hardhat``: hardhat.config.js, contracts/Token.ts, scripts/, test/)."""
    if template not in TEMPLATES:
        known = ", ".join(TEMPLATES)
        raise ValueError(f"unknown template {template!r} for AssemblyScript (known: {known})")
    contract = contract_name(project)
    module = module_name(contract)
    package = re.sub(r"[^a-z0-9._-]+", "-", project.lower()).strip("-._") or "contract"
    values = {
        "project": project,
        "package": package,
        "contract": contract,
        "module": module,
        "summary": TEMPLATES[template],
    }
    if template == "hardhat":
        values["contract"] = HARDHAT_CONTRACT
        return write_templates(
            PACKAGE,
            {
                dest / "package.json": "hardhat/package.json.tmpl",
                dest / "hardhat.config.js": "hardhat/hardhat.config.js.tmpl",
                dest / "contracts" / f"{HARDHAT_CONTRACT}.ts": "erc20/index.ts.tmpl",
                dest / "contracts" / "tsconfig.json": "hardhat/tsconfig.json.tmpl",
                dest / "scripts" / "deploy.js": "hardhat/deploy.js.tmpl",
                dest / "test" / f"{HARDHAT_CONTRACT}.test.js": "hardhat/Token.test.js.tmpl",
                dest / "README.md": "hardhat/README.md.tmpl",
                dest / ".gitignore": "hardhat/gitignore.tmpl",
            },
            values,
        )
    files = {
        dest / "package.json": "package.json.tmpl",
        dest / "assembly" / "index.ts": f"{template}/index.ts.tmpl",
        dest / "assembly" / "tsconfig.json": "tsconfig.json.tmpl",
        dest / "tests" / f"test_{module}.py": f"{template}/test_contract.py.tmpl",
        dest / "README.md": "README.md.tmpl",
        dest / ".gitignore": "gitignore.tmpl",
    }
    return write_templates(PACKAGE, files, values)
