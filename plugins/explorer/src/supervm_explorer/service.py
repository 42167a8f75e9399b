"""The ``explorer`` service: the artifacts the node knows, and the single-page app served.

When it starts it makes the node's :class:`~supervm_explorer.book.ArtifactBook` (loading
``--artifacts DIR``, :attr:`NodeConfig.artifacts_dir`) and, unless ``--no-explorer``, serves
the app built into this package's ``static/`` folder (``npm run build -w @supervm/explorer``):

- by default at ``/`` on the JSON-RPC port, through the rpc plugin's :data:`~supervm_rpc.PAGES`
  hook (the app then talks to the node on its own origin);
- with ``--explorer-port P`` on a server of its own at ``http://RPC_HOST:P/``, the page told
  the JSON-RPC port in a ``<meta name="supervm-rpc-port">`` tag.

The app reads everything through JSON-RPC and ``eth_subscribe``; this service serves files only.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Final

from aiohttp import web
from supervm.errors import SuperVMError
from supervm.node.config import NodeConfig
from supervm.node.keys import CONFIG, ENDPOINTS
from supervm.services.service import Service, ServiceContext
from supervm_rpc import PAGES

from .book import ArtifactBook
from .methods import ARTIFACTS

log = logging.getLogger("supervm.explorer")

#: The name the service is registered under.
EXPLORER_SERVICE: Final = "explorer"

_CONTENT_TYPES: Final = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain",
}
#: The file names the app may ask for (no ``..``, no hidden files).
_SAFE_PATH: Final = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Scripts, styles and images from the node only: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss: http: https:; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    # The node may be restarted with a newer app; the browser revalidates (Last-Modified).
    "Cache-Control": "no-cache",
}
_NOT_BUILT: Final = (
    "The SuperVM explorer is installed but its app is not built: run `make install` (or `npm "
    "run build -w @supervm/explorer`) and restart the node.\n"
)


class ExplorerError(SuperVMError):
    """The explorer cannot be served (its port is in use, its artifacts folder is missing)."""


def static_dir() -> Path:
    """Where the built app is: this package's ``static/`` folder."""
    return Path(str(resources.files("supervm_explorer"))) / "static"


class ExplorerPages:
    """Answers GET requests with the app's files.

    :param root: the built app's folder (``index.html`` and what it loads).
    :param rpc_port: the JSON-RPC port, told to the page when it is served from another port.
    """

    def __init__(self, root: Path, rpc_port: int | None = None) -> None:
        self.root = root
        self.rpc_port = rpc_port

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/") or "index.html"
        if not (self.root / "index.html").is_file():
            return web.Response(status=503, text=_NOT_BUILT, content_type="text/plain")
        if not _SAFE_PATH.fullmatch(path):
            return _not_found(path)
        file = self.root / path
        if not file.is_file():
            return _not_found(path)
        if path == "index.html":
            return self._index(file)
        content_type = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        return web.FileResponse(file, headers={**_HEADERS, "Content-Type": content_type})

    def _index(self, file: Path) -> web.Response:
        html = file.read_text()
        if self.rpc_port is not None:
            tag = f'<meta name="supervm-rpc-port" content="{self.rpc_port}">'
            html = html.replace("<head>", f"<head>\n    {tag}", 1)
        return web.Response(text=html, content_type="text/html", headers=_HEADERS)


def _not_found(path: str) -> web.Response:
    return web.Response(
        status=404, text=f"not found: /{path}\n", content_type="text/plain", headers=_HEADERS
    )


class ExplorerService(Service):
    """Keeps the node's artifacts and serves the explorer app."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self, context: ServiceContext) -> None:
        config = context.stash.get(CONFIG) or NodeConfig()
        book = ArtifactBook()
        context.stash[ARTIFACTS] = book
        if config.artifacts_dir is not None:
            try:
                loaded = book.load_dir(config.artifacts_dir)
            except SuperVMError as exc:
                raise ExplorerError(str(exc)) from None
            log.info(
                "explorer: %d artifact(s) from %s: %s",
                len(loaded),
                config.artifacts_dir,
                ", ".join(k.artifact.name for k in loaded) or "none",
            )
        if not config.explorer:
            return
        root = self._root or static_dir()
        endpoints = context.stash.setdefault(ENDPOINTS, {})
        rpc_url = endpoints.get("rpc")
        if config.explorer_port is None:
            if rpc_url is None:
                log.warning("explorer: no JSON-RPC server to serve it on (the rpc plugin)")
                return
            pages = ExplorerPages(root)

            async def handler(request: web.Request) -> web.StreamResponse:
                return await pages(request)

            context.stash[PAGES] = handler
            self.url = rpc_url
        else:
            rpc_port = int(rpc_url.rstrip("/").rsplit(":", 1)[1]) if rpc_url else None
            self.url = await self._serve(config, ExplorerPages(root, rpc_port))
        endpoints["explorer"] = self.url
        if not (root / "index.html").is_file():
            log.warning("explorer: the app is not built (%s has no index.html)", root)
        log.info("explorer at %s", self.url)

    async def _serve(self, config: NodeConfig, pages: ExplorerPages) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await pages(request)

        app = web.Application()
        app.router.add_get("/{path:.*}", handler)
        runner = self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, config.rpc_host, config.explorer_port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._runner = None
            raise ExplorerError(
                f"cannot serve the explorer on {config.rpc_host}:{config.explorer_port}: "
                f"{exc.strerror or exc}"
            ) from None
        port = runner.addresses[0][1]
        host = config.rpc_host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


__all__ = ["EXPLORER_SERVICE", "ExplorerError", "ExplorerPages", "ExplorerService", "static_dir"]
