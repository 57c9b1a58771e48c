"""The fan-out (hub/fanout.py, hub/realtime.py) reaches into private attributes of
python-engineio, python-socketio, aiohttp and asyncio for its direct websocket writes.
pyproject.toml caps those packages below their next minor release; each check here
names what an upgrade must still offer, so a release that drops one fails here, by
name, instead of as a silent slowdown or a hang in production."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from aiohttp import web
from aiohttp.http_websocket import WebSocketWriter
from engineio import async_server
from engineio.async_drivers import aiohttp as eio_aiohttp

from hub import fanout


def test_engineio_keeps_its_driver_table_on_the_server():
    server = async_server.AsyncServer(async_mode="aiohttp")
    assert isinstance(getattr(server, "_async", None), dict), "engineio AsyncServer._async (the async driver table) is gone"
    assert server._async.get("websocket") is eio_aiohttp.WebSocket, "engineio's aiohttp driver no longer serves websockets"
    assert fanout.install(server), "fanout.install could not replace the websocket driver"


def test_engineio_websocket_driver_still_has_the_shape_fanout_subclasses():
    params = list(inspect.signature(eio_aiohttp.WebSocket.__init__).parameters)
    assert params[:3] == ["self", "handler", "server"], f"engineio aiohttp WebSocket.__init__ changed: {params}"
    for name in ("send", "wait", "close"):
        assert callable(getattr(eio_aiohttp.WebSocket, name, None)), f"engineio aiohttp WebSocket.{name} is gone"


def test_asyncio_queue_counts_unfinished_tasks():
    q: asyncio.Queue[int] = asyncio.Queue()
    q.put_nowait(1)
    assert getattr(q, "_unfinished_tasks", None) == 1, "asyncio.Queue._unfinished_tasks is gone (fanout.try_write reads it)"


def test_aiohttp_websocket_response_exposes_its_writer_and_protocol():
    assert "_writer" in web.WebSocketResponse.__slots__ or hasattr(web.WebSocketResponse(), "_writer"), (
        "aiohttp WebSocketResponse._writer is gone (FanoutWebSocket takes the transport from it)"
    )
    for name in ("_write_websocket_frame",):
        assert callable(getattr(WebSocketWriter, name, None)), f"aiohttp WebSocketWriter.{name} is gone"
    source = inspect.getsource(WebSocketWriter)
    assert "_closing" in source, "aiohttp WebSocketWriter._closing is gone (the fan-out skips closing sockets by it)"
    from aiohttp.base_protocol import BaseProtocol

    assert hasattr(BaseProtocol, "_drain_helper") and "_paused" in inspect.getsource(BaseProtocol), (
        "aiohttp BaseProtocol._paused / _drain_helper are gone (FanoutWebSocket.send waits on a slow reader with them)"
    )


@pytest.mark.parametrize("name", ["aiohttp", "python-engineio", "python-socketio"])
def test_the_versions_in_use_are_below_the_caps(name):
    from importlib.metadata import requires, version as installed

    caps = {r.split(";")[0].replace(" ", "") for r in requires("changtong") or []}
    cap = next(c for c in caps if c.startswith(name + ">=") or c.startswith(name + "<"))
    assert "<" in cap, f"{name} has no upper bound in pyproject.toml: {cap}"
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(cap[len(name):])
    assert installed(name) in spec, f"{name} {installed(name)} is outside {spec}"
