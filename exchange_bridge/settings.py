"""The `[exchange]` settings section (TOML `[exchange]`, environment
`CHANGTONG_EXCHANGE__<NAME>`); read as `config.exchange.<name>`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExchangeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("0.0.0.0", description="Address of the document exchange's mutual-TLS port.")
    port: int = Field(
        0, description="Port of the document exchange (`/exchange/v1`, mutual TLS; needs `changtong exchange identity`). "
        "0 = no exchange port."
    )
    retry_base_seconds: float = Field(
        1.0, gt=0, description="First retry delay of the exchange outbox; doubles per failed attempt."
    )
    retry_max_seconds: float = Field(300.0, gt=0, description="Longest delay between two outbox attempts.")
    poll_seconds: float = Field(
        1.0, gt=0, description="How often the exchange outbox looks for due packages (other processes may queue them)."
    )
    max_package_bytes: int = Field(
        200 * 1024 * 1024, description="Largest exchange package (encrypted, attachments included) a node accepts."
    )
