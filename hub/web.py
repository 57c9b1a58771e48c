"""Serving the built web client: its entry page at `/` and at every client-side route
(the single-page app's history fallback), its hashed assets with a long cache life.
Without a build, `/` says how to make one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from .errors import NotFound

BUILT_CLIENT = Path(__file__).resolve().parent.parent / "web_client" / "dist"
PLACEHOLDER = Path(__file__).parent / "static" / "index.html"
# Paths the kernel itself answers (features add theirs: `Feature.url_prefixes`): a miss
# there stays a JSON 404, never the client's page.
SERVER_PREFIXES = ("/api/", "/socket.io", "/metrics", "/healthz", "/assets/")
# The client's own routes: pages, not API (the OpenAPI document leaves them out).
CLIENT_PATHS = ("/assets/{name}",)


class WebClient:
    def __init__(self, web_dir: Path | None, feature_prefixes: tuple[str, ...] = ()) -> None:
        self.server_prefixes = SERVER_PREFIXES + feature_prefixes
        self.root = web_dir or BUILT_CLIENT
        self.entry = self.root / "index.html"
        self.assets = (self.root / "assets").resolve()

    def page(self) -> web.StreamResponse:
        path = self.entry if self.entry.is_file() else PLACEHOLDER
        # The entry page names the current assets: always revalidate it.
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self.page()

    async def asset(self, request: web.Request) -> web.StreamResponse:
        path = (self.assets / request.match_info["name"]).resolve()
        if self.assets not in path.parents or not path.is_file():
            raise NotFound("error.not_found")
        # Vite puts a content hash in every asset's name, so a name never changes meaning.
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @web.middleware
    async def history_fallback(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A client-side route (/chat/41, /directory) opened directly or reloaded gets
        the entry page; the client's router takes it from there."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if request.method in ("GET", "HEAD") and not request.path.startswith(self.server_prefixes):
                return self.page()
            raise

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.index), web.get("/assets/{name:.+}", self.asset)]
