"""What a feature package (rooms, exchange_bridge, bots, media, search) gives the kernel:
one `FEATURE`, a description the kernel reads instead of naming the package.

A feature's `FEATURE` lives in a module of its own (`<package>/feature.py`) that imports
nothing heavy, so that `changtong --help` and the table list cost no more than this
file: the parts are named by dotted paths and imported when they are used.

* `setup`        "module:function", called with the app by hub/app.py (routes, Socket.IO
                 handlers, hooks, background tasks);
* `tables`       modules whose import defines the feature's tables on `hub.db.metadata`;
* `migrations`   the feature's Alembic versions directory (one of Alembic's
                 `version_locations`; `changtong db upgrade` applies every feature's);
* `commands`     its sub-commands of `changtong` with a line of help each, and `cli`, the
                 module with `add_commands(subparsers)` and `run(args, config) -> int`
                 (imported only when one of them runs);
* `url_prefixes` the paths it serves, which the web client's history fallback leaves alone;
* `demo`         "module:function", `await fn(app, admin)` after the kernel's demo
                 organisation is in (`changtong serve --demo`, the first start), returning
                 None or logins to print beside the kernel's, `(username, name, role)`; on every
                 start with `--demo`, `app[DEMO]` (hub/config.py) is true before `setup` runs, for demo
                 helpers that run beside the hub (the exchange's 垦利区 node);
* `settings`     "module:Model", a pydantic model: the feature's section of the settings,
                 `[<name>]` in TOML, `CHANGTONG_<NAME>__<FIELD>` in the environment,
                 `config.<name>` in code (hub/config.py composes them).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Feature", "load"]


def load(ref: str) -> Any:
    """`package.module:name` → that object; `package.module` → the module."""
    module, _, name = ref.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, name) if name else mod


@dataclass(frozen=True)
class Feature:
    name: str
    setup: str
    tables: tuple[str, ...] = ()
    migrations: Path | None = None
    commands: Mapping[str, str] = field(default_factory=dict)
    cli: str | None = None
    url_prefixes: tuple[str, ...] = ()
    demo: str | None = None
    settings: str | None = None
