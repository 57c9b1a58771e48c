"""The wire documentation stays true to the running hub: hub/static/openapi.json
(served at /api/v1/openapi.json) documents every REST route and nothing else, and
docs/protocol.md names every Socket.IO event and every error code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hub.api import OPENAPI
from hub.errors import CODES
from hub.realtime import REALTIME
from hub.web import CLIENT_PATHS

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def router_routes(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route the app serves, Socket.IO's and HEAD aside."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        if path.startswith("/socket.io") or path in CLIENT_PATHS:
            continue
        found.add((path, route.method.lower()))
    return found


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


async def test_openapi_document_is_served(hub):
    status, doc = await hub.request("GET", "/api/v1/openapi.json")
    assert status == 200, doc
    assert isinstance(doc, dict)
    assert doc["openapi"].startswith("3.1"), doc.get("openapi")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]
    bearer = doc["components"]["securitySchemes"]["bearerAuth"]
    assert bearer["type"] == "http" and bearer["scheme"] == "bearer"
    assert doc == json.loads(OPENAPI.read_text(encoding="utf-8"))


async def test_every_route_is_documented_and_nothing_stale(hub):
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    served = router_routes(hub.app)
    documented = documented_routes(doc)
    assert served, "the router has no routes?"
    missing = sorted(served - documented)
    stale = sorted(documented - served)
    assert not missing, f"routes missing from hub/static/openapi.json: {missing}"
    assert not stale, f"documented in hub/static/openapi.json but not served: {stale}"


def test_openapi_is_self_consistent():
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    # Every $ref points at something in the document.
    for ref in refs(doc):
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
            node = node[part]
    # Every path template parameter is declared on each of its operations.
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            declared = {p["name"] for p in op.get("parameters", []) + item.get("parameters", []) if p.get("in") == "path"}
            assert names == declared, f"{method.upper()} {path}: path parameters {names} declared {declared}"
            assert op.get("summary"), f"{method.upper()} {path} has no summary"
            assert op.get("responses"), f"{method.upper()} {path} has no responses"
    # The error shape names exactly the hub's error codes.
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert sorted(error["enum"]) == sorted(CODES)


async def test_protocol_names_every_socketio_event(hub):
    text = PROTOCOL.read_text(encoding="utf-8")
    events = sorted(hub.app[REALTIME].handlers)
    assert events, "no Socket.IO handlers registered?"
    missing = [e for e in events if f"`{e}`" not in text]
    assert not missing, f"events not documented in docs/protocol.md: {missing}"


def test_protocol_names_every_error_code():
    text = PROTOCOL.read_text(encoding="utf-8")
    missing = [c for c in CODES if f"`{c}`" not in text]
    assert not missing, f"error codes not documented in docs/protocol.md: {missing}"
    assert len(CODES) == 8
