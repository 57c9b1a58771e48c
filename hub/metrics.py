"""Prometheus metrics, one registry per app (several hubs can live in one test process)."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["METRICS", "Metrics", "metrics_handler"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("changtong_connections", "Open Socket.IO connections on this node", registry=r)
        self.events = Counter(
            "changtong_events_total", "Socket.IO client events handled", ["event", "outcome"], registry=r
        )
        self.event_seconds = Histogram(
            "changtong_event_seconds",
            "Time to handle one Socket.IO client event",
            ["event"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.messages_stored = Counter("changtong_messages_stored_total", "Messages stored", ["kind"], registry=r)
        self.deliveries = Counter(
            "changtong_deliveries_total", "Server pushes written to client connections", ["event"], registry=r
        )
        self.http_requests = Counter(
            "changtong_http_requests_total", "HTTP requests", ["method", "status"], registry=r
        )


METRICS: Final = web.AppKey("metrics", Metrics)


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
