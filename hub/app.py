"""The app factory: the kernel's parts, then every feature of hub/features.py."""

from __future__ import annotations

from aiohttp import web

from . import api, presence
from . import web as web_client
from .auth import AUTH, Auth
from .blobs import BLOBS, BlobStore, sweep_on_startup
from .cards import CARD_HANDLERS, CardHandlers
from .config import CONFIG, DEMO, Config
from .db import DATABASE, Database, close_database
from .effects import EFFECTS, Effects
from .directory import DIRECTORY_HOOKS, DirectoryHooks
from .feature import load
from .features import FEATURES
from .client_address import parse_networks
from .http import forwarded_for, middlewares
from .metrics import METRICS, Metrics, metrics_handler
from .realtime import REALTIME, Realtime

__all__ = ["create_app"]


def create_app(config: Config, demo: bool = False) -> web.Application:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    client = web_client.WebClient(config.web_dir, tuple(p for f in FEATURES for p in f.url_prefixes))
    app = web.Application(
        middlewares=[forwarded_for(parse_networks(config.trusted_proxies)), *middlewares, client.history_fallback],
        client_max_size=1024 * 1024,
    )
    app[CONFIG] = config
    app[DEMO] = demo
    app[METRICS] = Metrics()
    app[DATABASE] = Database(config.effective_database_url)
    app.cleanup_ctx.append(close_database)
    app[AUTH] = Auth(app[DATABASE], config)
    app[BLOBS] = BlobStore(config.blob_dir)
    app.on_startup.append(sweep_on_startup)
    app[DIRECTORY_HOOKS] = DirectoryHooks()
    app[CARD_HANDLERS] = CardHandlers()
    app[EFFECTS] = Effects(app[DATABASE], config)
    app.cleanup_ctx.append(app[EFFECTS].lifetime)
    app[REALTIME] = Realtime(app)
    presence.setup(app)
    app.add_routes(api.routes())
    app.router.add_get("/metrics", metrics_handler)
    for feature in FEATURES:
        load(feature.setup)(app)
    app.add_routes(client.routes())
    return app
