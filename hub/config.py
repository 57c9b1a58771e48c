"""Settings: one typed model, read from (highest first) command-line flags,
``CHANGTONG_*`` environment variables, an optional TOML file, then defaults.

The TOML file is ``$CHANGTONG_CONFIG`` or ``<data_dir>/changtong.toml``; its keys are
the field names below. docs/settings.md is the reference and a test keeps it in step
with this model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Final

from aiohttp import web
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["CONFIG", "DEMO", "Config", "KernelConfig", "load_config"]


class KernelConfig(BaseSettings):
    """The kernel's settings; `Config` adds a section per feature (`Feature.settings`)."""

    model_config = SettingsConfigDict(env_prefix="CHANGTONG_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("data"), description="Directory for the SQLite database, blobs and keys.")
    host: str = Field("127.0.0.1", description="Address `changtong serve` listens on.")
    port: int = Field(8080, description="Port `changtong serve` listens on.")
    database_url: SecretStr = Field(
        SecretStr(""),
        description="SQLAlchemy URL. Empty: `sqlite+aiosqlite:///<data_dir>/changtong.db`. "
        "Scale-out: `postgresql+asyncpg://user@host/db`.",
    )
    redis_url: SecretStr = Field(
        SecretStr(""),
        description="Redis URL for scale-out: Socket.IO fan-out across processes and presence "
        "(`redis://host:6379/0`). Empty = in-process.",
    )
    token_ttl_hours: float = Field(24 * 7, description="How long a login token stays valid.")
    login_attempts_per_account: int = Field(
        5, description="Failed logins allowed per account per `login_window_seconds`."
    )
    login_attempts_per_address: int = Field(
        20, description="Failed logins allowed per client address per `login_window_seconds`."
    )
    login_window_seconds: float = Field(300, description="Window of the login rate limits.")
    login_in_flight_per_address: int = Field(
        500,
        gt=0,
        description="Logins one client address may have in progress at once (the password check is slow); more "
        "get `rate_limited`. An office behind one NAT address logging in at 9:00 stays well under it.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        ["127.0.0.1", "::1"],
        description="Reverse proxies (addresses or networks, e.g. `10.0.0.0/8`) whose `X-Forwarded-For` the hub "
        "believes: behind them the client's address (for login limits and logs) is the first hop from the right "
        "that is not one of them. Environment: comma-separated (`CHANGTONG_TRUSTED_PROXIES=10.0.0.2,10.0.0.3`). "
        "Empty: the header is ignored and the TCP peer is the client.",
    )
    argon2_time_cost: int = Field(3, description="argon2id iterations for password hashes.")
    argon2_memory_kib: int = Field(65536, description="argon2id memory cost in KiB.")
    recall_window_seconds: float = Field(120, description="How long a sender may recall (撤回) a message.")
    max_message_chars: int = Field(10_000, description="Longest text a message may carry.")
    max_payload_bytes: int = Field(
        256 * 1024,
        description="Largest Socket.IO event payload the hub accepts (bytes); a larger one is answered "
        "`too_large` through its ack and the connection stays open.",
    )
    max_frame_bytes: int = Field(
        2 * 1024 * 1024,
        description="Largest Engine.IO frame the transport reads (bytes). Past it the connection is closed "
        "(1009): a client that sends that much is broken or hostile. Twice socket.io's 1 MB, because clients "
        "that write JSON with `\\uXXXX` escapes (Python's default) send 6 bytes per Chinese character: a pasted "
        "200,000-character text is 0.6 MB from a browser and 1.2 MB from such a client, and either must get "
        "`too_large` with its connection kept.",
    )
    max_upload_bytes: int = Field(100 * 1024 * 1024, description="Largest file upload (bytes).")
    thumbnail_max_pixels: int = Field(
        40_000_000, description="Images with more pixels than this get no thumbnail (decompression bombs)."
    )
    ping_interval_seconds: float = Field(
        25, gt=0, description="Socket.IO heartbeat: the hub pings each connection this often (socket.io's default). "
        "Each ping costs CPU on every idle connection; a silent client is dropped after interval + timeout.",
    )
    ping_timeout_seconds: float = Field(20, gt=0, description="How long the hub waits for a ping's answer.")
    websocket_compress_min_bytes: int = Field(
        1024,
        ge=0,
        description="Where a browser negotiated permessage-deflate, Socket.IO packets shorter than this go "
        "uncompressed (acks, pings, small pushes); longer ones (`sync` and `history` pages) are compressed. "
        "A connection that never gets a long one never allocates a compressor (about 100 KB). Room pushes "
        "are always written uncompressed. 0: compress every queued packet.",
    )
    fast_fanout: bool = Field(
        True,
        description="Pushes written straight to each websocket, encoded once (hub/fanout.py), and presence pushes "
        "held for `presence_push_window_seconds`. This reaches into private parts of python-engineio and aiohttp "
        "(pinned in pyproject.toml, checked by tests/test_private_attributes.py). Off: python-socketio's own managers, "
        "slower but touching nothing private — the fallback if an upgrade breaks the fast path.",
    )
    events_per_second: float = Field(50, description="Socket.IO events a connection may send per second (burst 2x).")
    presence_grace_seconds: float = Field(
        2.0, description="How long after a user's last connection closes before they show offline."
    )
    presence_push_window_seconds: float = Field(
        0.25,
        ge=0,
        le=5,
        description="Presence changes wait up to this long and reach each connection together (each still its "
        "own `presence` event) in one write: a morning's connect storm of N people then costs one write per "
        "connection per window instead of N²/2 in all. 0: each change at once.",
    )
    redis_prefix: str = Field(
        "changtong",
        min_length=1,
        description="With `redis_url`: prefix of every Redis key and pub/sub channel of this deployment "
        "(two deployments, or test runs, may then share one Redis).",
    )
    presence_ttl_seconds: float = Field(
        30,
        gt=0,
        description="With `redis_url`: lifetime of each process's presence heartbeat in Redis (renewed every "
        "ttl/3); the users of a process that dies show offline within about this long.",
    )
    web_dir: Path | None = Field(
        None,
        description="The built web client the hub serves at `/`. Empty: `web_client/dist` of this "
        "installation (`make run` builds it).",
    )
    history_page_max: int = Field(200, description="Most messages one `history` page returns.")
    sync_page_max: int = Field(1000, description="Most messages one `sync` page returns.")
    uvloop: bool = Field(
        True,
        description="`changtong serve` runs its event loop on uvloop (libuv) instead of asyncio's own: measured "
        "2.01 against 2.15 µs of CPU per delivery in a flood and 2.9 against 3.4 s for 1,000 connects "
        "(bench/README.md). Off: asyncio's loop (for debugging with `PYTHONASYNCIODEBUG=1`); asyncio's is also "
        "used where uvloop is not installed.",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_json: bool = Field(False, description="Log one JSON object per line (for log collectors).")
    effects_poll_seconds: float = Field(
        1.0, gt=0, description="How often each process looks for due effects (work queued by another process, "
        "retries); work queued by this process starts at once after its commit."
    )
    effects_concurrency: int = Field(4, gt=0, description="Effects (signing, webhooks, jobs) one process runs at once.")
    effects_timeout_seconds: float = Field(60.0, gt=0, description="Longest an effect may run before it counts as failed.")
    effects_retry_base_seconds: float = Field(1.0, gt=0, description="First retry delay of a failed effect; doubles per attempt.")
    effects_retry_max_seconds: float = Field(600.0, gt=0, description="Longest delay between two attempts of an effect.")
    effects_max_attempts: int = Field(
        12, gt=0, description="Attempts before an effect is marked failed (kept, with its last error)."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        from .client_address import parse_networks

        parse_networks(value)  # a typo must fail at start, not trust nothing silently
        return [v.strip() for v in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _toml_path(init_settings)
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        """The database URL to connect with (passwords included: never log it)."""
        url = _plain(self.database_url)
        if url:
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'changtong.db').resolve()}"

    @property
    def redis(self) -> str:
        """The Redis URL to connect with, "" when in-process (passwords included: never log it)."""
        return _plain(self.redis_url)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def _plain(value: Any) -> Any:
    """A secret's value; anything else as it is."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _toml_path(init_settings: PydanticBaseSettingsSource) -> Path | None:
    explicit = os.environ.get("CHANGTONG_CONFIG")
    if explicit:
        if not Path(explicit).is_file():  # a typo must not silently fall back to defaults
            raise FileNotFoundError(f"CHANGTONG_CONFIG={explicit}: no such file")
        return Path(explicit)
    data_dir = init_settings().get("data_dir") or os.environ.get("CHANGTONG_DATA_DIR") or "data"
    candidate = Path(data_dir) / "changtong.toml"
    return candidate if candidate.is_file() else None


def _with_feature_sections() -> type[KernelConfig]:
    """Config: the kernel's settings and one section per feature that has settings
    (`[exchange]` in TOML, `CHANGTONG_EXCHANGE__PORT` in the environment)."""
    from pydantic import create_model

    from .feature import load
    from .features import FEATURES

    sections: dict[str, Any] = {}
    for feature in FEATURES:
        if feature.settings:
            model = load(feature.settings)
            sections[feature.name] = (model, Field(default_factory=model, description=f"The [{feature.name}] section."))
    return create_model("Config", __base__=KernelConfig, **sections)


Config = _with_feature_sections()


def feature_sections() -> list[tuple[str, type[BaseModel]]]:
    """(name, model) of each feature's section of Config."""
    return [
        (name, field.annotation)
        for name, field in Config.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    ]


def _renamed_in_environment() -> list[str]:
    """`CHANGTONG_EXCHANGE_PORT` and the like: a section's setting under its old flat
    name, which the environment would otherwise ignore without a word."""
    found = []
    for name, model in feature_sections():
        for sub in model.model_fields:
            old = f"CHANGTONG_{name.upper()}_{sub.upper()}"
            if old in os.environ:
                found.append(f"{old} → CHANGTONG_{name.upper()}__{sub.upper()}")
    return found


def load_config(**overrides: Any) -> Config:
    """Build the settings; ``overrides`` (flags) win, ``None`` values are ignored. A
    setting the environment names the old way is refused with its new name."""
    renamed = _renamed_in_environment()
    if renamed:
        raise ValueError("renamed settings (two underscores now): " + ", ".join(renamed))
    return Config(**{k: v for k, v in overrides.items() if v is not None})


CONFIG: Final = web.AppKey("config", Config)
# `changtong serve --demo`: true before the features' `setup` runs (they may start demo helpers)
DEMO: Final = web.AppKey("demo", bool)


def _reference_row(name: str, env: str, field: Any) -> str:
    default = _plain(field.default)
    shown = f"`{default}`" if default not in ("", None) else "(empty)"
    return f"| {name} | {env} | {shown} | {field.description} |"


def settings_reference() -> str:
    """docs/settings.md, generated from the model (a test keeps the file in step)."""
    lines = [
        "# Settings reference",
        "",
        "Every setting of `changtong`, read in this order (first wins):",
        "",
        "1. command-line flags (`changtong --data-dir DIR serve --host H --port P`);",
        "2. environment variables: the setting's name in capitals with the prefix `CHANGTONG_`",
        "   (`CHANGTONG_DATA_DIR`, `CHANGTONG_DATABASE_URL`, …);",
        "3. a TOML file: `$CHANGTONG_CONFIG`, or else `<data_dir>/changtong.toml`, with the names below as keys;",
        "4. the defaults below.",
        "",
        "A feature's settings are a section of their own: `[exchange]` in TOML, `CHANGTONG_EXCHANGE__PORT`",
        "(two underscores) in the environment, `config.exchange.port` in code. The database and Redis URLs",
        "are secrets: they never show in a log or a dump of the settings.",
        "",
        "Example `data/changtong.toml`:",
        "",
        "```toml",
        'port = 8080',
        'database_url = "postgresql+asyncpg://changtong@db.example/changtong"',
        "max_upload_bytes = 209715200",
        "",
        "[exchange]",
        "port = 8443",
        "```",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    sections = feature_sections()
    for name, field in Config.model_fields.items():
        if name not in dict(sections):
            lines.append(_reference_row(f"`{name}`", f"`CHANGTONG_{name.upper()}`", field))
    for section, model in sections:
        lines += ["", f"### `[{section}]`", "", "| setting | environment variable | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            lines.append(_reference_row(f"`{name}`", f"`CHANGTONG_{section.upper()}__{name.upper()}`", field))
    lines.append("")
    lines.append("Regenerate this file with `python -c 'from hub.config import settings_reference as s; print(s(), end=\"\")' > docs/settings.md`.")
    lines.append("")
    return "\n".join(lines)
