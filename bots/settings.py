"""The `[bots]` settings section (TOML `[bots]`, environment `CHANGTONG_BOTS__<NAME>`);
read as `config.bots.<name>`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BotsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token_ttl_days: float = Field(
        3650, gt=0, description="How long a bot's token (`changtong bot add`, `POST /api/v1/admin/bots`) stays valid."
    )
    webhook_posts_per_second: float = Field(5, gt=0, description="Posts one incoming webhook may make per second (burst 2x).")
    command_timeout_seconds: float = Field(
        5, gt=0, description="How long a slash command's service may take to answer before the caller is told it failed."
    )
