"""Tables of the bots feature: incoming webhooks and slash commands. A bot itself is a
user with `is_bot` (hub/schema.py), so it is a participant like anyone."""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import BigId, metadata

TS = sa.DateTime(timezone=True)

# POST /hooks/<token> posts into one channel as the webhook's bot user.
bot_webhooks = sa.Table(
    "bot_webhooks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("bot_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# `/trigger args` in a channel: a signed POST to `url`, answered as the command's bot.
bot_commands = sa.Table(
    "bot_commands",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.String(32), nullable=False, unique=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("bot_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)
