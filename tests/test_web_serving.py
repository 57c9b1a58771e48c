"""The hub serves the built web client: the entry page at `/` and at client-side routes,
hashed assets cached for good, and JSON 404s (not the page) for the hub's own paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

PAGE = "<!doctype html><title>畅通</title><div id=app></div>"


@pytest.fixture
def hub_settings(tmp_path: Path) -> dict[str, Any]:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(PAGE, encoding="utf-8")
    (built / "assets" / "index-3f2a9c.js").write_text("console.log('畅通')", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the web")
    return {"web_dir": built}


async def test_entry_page_and_client_routes(hub) -> None:
    for path in ("/", "/chat/41", "/directory"):
        async with hub.http.get(hub.url + path) as resp:
            assert resp.status == 200, path
            assert await resp.text() == PAGE
            assert resp.headers["Cache-Control"] == "no-cache"


async def test_assets_are_cached_for_good_and_confined(hub) -> None:
    async with hub.http.get(hub.url + "/assets/index-3f2a9c.js") as resp:
        assert resp.status == 200 and "畅通" in await resp.text()
        assert "immutable" in resp.headers["Cache-Control"]
    async with hub.http.get(hub.url + "/assets/missing.js") as resp:
        assert resp.status == 404
    for path in ("/assets/..%2F..%2Fsecret.txt", "/assets/%2E%2E/%2E%2E/secret.txt", "/assets/../../secret.txt"):
        async with hub.http.get(hub.url + path) as resp:
            assert "not for the web" not in await resp.text(), path


async def test_the_hubs_own_paths_stay_json(hub) -> None:
    for path in ("/api/v1/nothing-here", "/socket.io/x", "/exchange/v1/nothing"):
        status, body = await hub.request("GET", path)
        assert status == 404 and body["error"]["code"] == "not_found", path
