"""``supervm new my-dapp --template hardhat``, outside the workspace, with the npm-packed SDKs.

The project is created in a temporary directory; ``npm pack`` makes tarballs of ``@supervm/js``,
``@supervm/hardhat-plugin`` and ``@supervm/sdk``, which ``npm install --offline`` installs there.
Hardhat, hardhat-ethers, ethers and the AssemblyScript toolchain are the repository's own
(``make install`` put them in its node_modules from the lock file, and npm's cache holds their
tarballs but not the registry metadata an install by version range needs): they are symlinked
into the project, so nothing is downloaded. Then the project's own tests pass with
``npx hardhat test --network supervm``, which starts a dev node for the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

Npm = Callable[..., subprocess.CompletedProcess[str]]
REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sdk/js", "sdk/hardhat-plugin", "sdk/assemblyscript")
#: Installed packages the template depends on, taken from the repository's node_modules.
LINKED = ("hardhat", "ethers", "@nomicfoundation/hardhat-ethers", "assemblyscript", "as-bignum")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


@pytest.mark.usefixtures("built")
def test_template_project_passes_its_tests(
    npm: Npm, js_env: dict[str, str], tmp_path: Path
) -> None:
    supervm = str(Path(sys.executable).with_name("supervm"))
    created = _run([supervm, "new", "my-dapp", "--template", "hardhat", "--dir", str(tmp_path)],
                   tmp_path, js_env)  # fmt: skip
    assert created.stdout.startswith("template: hardhat")
    project = tmp_path / "my-dapp"
    for name in (
        "hardhat.config.js",
        "contracts/Token.ts",
        "scripts/deploy.js",
        "test/Token.test.js",
    ):
        assert (project / name).is_file(), name
    manifest = json.loads((project / "package.json").read_text())
    assert manifest["scripts"]["test"] == "hardhat test --network supervm"
    assert {"@supervm/hardhat-plugin", "@supervm/js", "hardhat"} <= set(manifest["devDependencies"])

    packs = tmp_path / "packs"
    packs.mkdir()
    tarballs = []
    for package in PACKAGES:
        out = npm("pack", "--json", "--pack-destination", str(packs), cwd=REPO_ROOT / package)
        (info,) = json.loads(out.stdout)
        tarball = packs / info["filename"]
        assert tarball.is_file()
        tarballs.append(str(tarball))
        if package == "sdk/js":
            packed = {f["path"] for f in info["files"]}
            assert {"dist/esm/index.js", "dist/cjs/index.js", "dist/cjs/package.json"} <= packed
            assert "dist/esm/index.d.ts" in packed

    # Install the tarballs alone (npm resolves every listed dependency otherwise, and the
    # registry metadata for version ranges is not in the offline cache), then put the
    # project's manifest back and link the repository's installed Hardhat, ethers and asc.
    template_manifest = (project / "package.json").read_text()
    (project / "package.json").write_text('{"name": "my-dapp", "private": true}\n')
    npm("install", "--offline", "--no-audit", "--no-fund", "--legacy-peer-deps", "--no-save",
        "--no-package-lock", *tarballs, cwd=project)  # fmt: skip
    (project / "package.json").write_text(template_manifest)
    modules = project / "node_modules"
    for name in ("@supervm/js", "@supervm/hardhat-plugin", "@supervm/sdk"):
        assert (modules / name / "package.json").is_file() and not (modules / name).is_symlink()
    for name in LINKED:
        (modules / name).parent.mkdir(parents=True, exist_ok=True)
        (modules / name).symlink_to(REPO_ROOT / "node_modules" / name)
    hardhat = [shutil.which("node") or "node", str(modules / "hardhat/internal/cli/bootstrap.js")]

    env = dict(js_env)
    # Port 0 in the network's URL: no node answers there, so the plugin starts one on a free port.
    env["SUPERVM_RPC_URL"] = "http://127.0.0.1:0/"
    # Hardhat keeps compilers and telemetry ids in the user's folders: keep them here.
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[var] = str(tmp_path / "home" / var.lower())
    env.pop("SUPERVM", None)  # the plugin finds supervm on PATH, as a user's shell would
    result = _run([*hardhat, "test", "--network", "supervm"], project, env)
    # `hardhat test` compiled first (quietly): the Hardhat artifact below is its output.
    assert "Started a SuperVM dev node for the tests at http://127.0.0.1:" in result.stdout
    assert "6 passing" in result.stdout, result.stdout
    assert "failing" not in result.stdout
    artifact = json.loads((project / "artifacts/contracts/Token.ts/Token.json").read_text())
    assert artifact["_format"] == "hh-sol-artifact-1"
    assert artifact["bytecode"].startswith("0x0061736d")
    # No Solidity sources, so no solc was fetched.
    assert not list((tmp_path / "home").rglob("compilers*"))
    assert os.path.isdir(project / "cache")
