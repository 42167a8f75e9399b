"""A real third-party plugin: built as a wheel, installed with the kernel into a scratch venv,
discovered through its entry point, and its host function called from WASM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "hello_host"


def _uv() -> str:
    local = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build wheels; run `make install` first")
    return found


def _run(*cmd: str, cwd: Path = ROOT) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_hello_host_wheel_adds_a_host_function(tmp_path: Path) -> None:
    uv = _uv()
    wheels = tmp_path / "wheels"
    for package in ("supervm", "supervm-wasm-wasmtime", "supervm-storage-memory"):
        _run(uv, "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(wheels))
    _run(uv, "build", "--quiet", "--wheel", "--out-dir", str(wheels), str(EXAMPLE))
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert any(name.startswith("supervm_hello_host-") for name in built), built

    venv = tmp_path / "venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--quiet", "--python", str(python), *map(str, wheels.glob("*.whl")))

    script = textwrap.dedent(
        """
        import json, wasmtime
        from supervm import Kernel
        kernel = Kernel.from_plugins()
        info = {i.name: i for i in kernel.plugins.infos()}
        code = bytes(wasmtime.wat2wasm(open(GREET).read()))
        result = kernel.execute(code, kernel.open_storage("memory"), input=b"world")
        blocked = Kernel.from_plugins(["no:hello_host"])
        try:
            blocked.vm().validate(code)
            rejected = ""
        except Exception as exc:
            rejected = str(exc)
        print(json.dumps({
            "distribution": info["hello_host"].distribution,
            "hooks": list(info["hello_host"].hooks),
            "return": result.return_data.decode(),
            "error": None if result.error is None else str(result.error),
            "rejected": rejected,
        }))
        """
    ).replace("GREET", repr(str(EXAMPLE / "greet.wat")))
    out = json.loads(_run(str(python), "-c", script, cwd=tmp_path).strip().splitlines()[-1])
    assert out["distribution"] == "supervm-hello-host"
    assert out["hooks"] == ["supervm_register_host_functions"]
    assert out["error"] is None
    assert out["return"] == "hello, world"
    assert "hello.greet" in out["rejected"]

    cli = _run(str(venv / "bin" / "supervm"), "plugins", "--json", cwd=tmp_path)
    names = {p["name"]: p for p in json.loads(cli)}
    assert names["hello_host"]["enabled"] is True
