"""The explorer service: the app served at / on the RPC port (the rpc plugin's PAGES hook), on
its own port, or not at all; its files only; and the artifacts it loads at start."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from supervm import Kernel
from supervm.node import NodeConfig
from supervm.node.keys import ENDPOINTS
from supervm.plugins.registry import ServiceRegistry
from supervm.tooling.artifacts import artifact_to_json
from supervm.tooling.compilers import Artifact
from supervm_explorer import ExplorerService
from supervm_rpc.testing import NodeThread

INDEX = "<!doctype html>\n<html>\n  <head>\n    <title>test app</title>\n  </head>\n</html>\n"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "js" / "app.js").write_text("export const x = 1;\n")
    (root / "style.css").write_text("body {}\n")
    (tmp_path / "secret.txt").write_text("not served\n")
    return root


def _services(kernel: Kernel, explorer: ExplorerService) -> ServiceRegistry:
    """The kernel's services with ``explorer`` in place of the registered one."""
    registered = kernel.services()
    registry = ServiceRegistry()
    for entry in registered.entries():
        if entry.name != "explorer":
            registry.add_service(entry.name, entry.value, after=registered.after(entry.name))
    registry.add_service("explorer", explorer, after=["rpc"])
    return registry


@pytest.fixture
def start(kernel: Kernel, tmp_path: Path) -> Iterator[Any]:
    nodes: list[NodeThread] = []

    def run(root: Path, **fields: Any) -> NodeThread:
        config = NodeConfig(dev=True, data_dir=tmp_path / f"node{len(nodes)}", rpc_port=0, **fields)
        node = NodeThread(kernel, config, _services(kernel, ExplorerService(root)))
        nodes.append(node)
        return node

    yield run
    for node in nodes:
        node.stop()


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_served_at_root_of_the_rpc_port(start: Any, app: Path) -> None:
    node = start(app)
    status, headers, body = _get(node.url)
    assert status == 200 and body == INDEX
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = _get(node.url + "js/app.js")
    assert status == 200 and body == "export const x = 1;\n"
    assert headers["Content-Type"].startswith("text/javascript")
    assert _get(node.url + "style.css")[1]["Content-Type"].startswith("text/css")
    assert node.stash[ENDPOINTS]["explorer"] == node.url
    # JSON-RPC on the same port is unchanged.
    assert node.call("eth_chainId") == "0x7a69"


@pytest.mark.parametrize(
    "path", ["missing.js", "..%2Fsecret.txt", "%2e%2e/secret.txt", ".hidden", "js/../../secret.txt"]
)
def test_only_the_apps_files(start: Any, app: Path, path: str) -> None:
    node = start(app)
    status, _headers, body = _get(node.url + path)
    assert status == 404, body
    assert "not served" not in body


def test_an_unbuilt_app_says_how_to_build_it(start: Any, tmp_path: Path) -> None:
    node = start(tmp_path / "nothing-here")
    status, _headers, body = _get(node.url)
    assert status == 503 and "npm run build -w @supervm/explorer" in body


def test_own_port(start: Any, app: Path) -> None:
    node = start(app, explorer_port=0)

    url = node.stash[ENDPOINTS]["explorer"]
    assert url != node.url
    status, _headers, body = _get(url)
    assert status == 200
    assert f'<meta name="supervm-rpc-port" content="{node.port}">' in body
    assert _get(url + "js/app.js")[0] == 200
    # The RPC port answers its short text again.
    status, _headers, body = _get(node.url)
    assert status == 200 and "JSON-RPC endpoint" in body
    assert _get(node.url + "js/app.js")[0] == 404


def test_no_explorer(start: Any, app: Path) -> None:
    node = start(app, explorer=False)
    _status, _headers, body = _get(node.url)
    assert "JSON-RPC endpoint" in body
    assert _get(node.url + "js/app.js")[0] == 404
    # The artifacts methods still work: an SDK registers artifacts whether or not a page shows.
    assert node.call("supervm_getArtifacts") == []


def test_artifacts_dir(start: Any, app: Path, tmp_path: Path, erc20: Artifact) -> None:
    folder = tmp_path / "artifacts" / "nested"
    folder.mkdir(parents=True)
    (folder / "ERC20.json").write_text(json.dumps(artifact_to_json(erc20)))
    (folder / "build-info.json").write_text('{"not": "an artifact"}')
    (folder / "broken.json").write_text("{")
    node = start(app, artifacts_dir=tmp_path / "artifacts")
    (listed,) = node.call("supervm_getArtifacts")
    assert listed["name"] == "ERC20"
    assert listed["source"].endswith("ERC20.json")


def test_artifacts_dir_must_exist(kernel: Kernel, app: Path, tmp_path: Path) -> None:
    config = NodeConfig(
        dev=True, data_dir=tmp_path / "n", rpc_port=0, artifacts_dir=tmp_path / "absent"
    )
    with pytest.raises(Exception, match="not a directory"):
        NodeThread(kernel, config, _services(kernel, ExplorerService(app)))


def test_config_defaults() -> None:
    config = NodeConfig()
    assert config.explorer is True and config.explorer_port is None
    assert config.artifacts_dir is None
    assert attrs.evolve(config, explorer=False).explorer is False
