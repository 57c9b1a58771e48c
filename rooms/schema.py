"""Tables of rooms: channels, their members with read cursors, and messages.

Every change in a channel (a new message, an edit, a recall, a card's new state) takes
the channel's next `seq` from `channels.head_seq`, inside the transaction that stores
it. A message keeps the seq it was created with (`seq`, its place in history) and the
seq of its latest change (`change_seq`); `sync` reads `change_seq > cursor`.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import BigId, metadata

TS = sa.DateTime(timezone=True)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # public | private | direct | unit
    sa.Column("name", sa.String(100), nullable=False, server_default=""),
    sa.Column("topic", sa.String(500), nullable=False, server_default=""),
    sa.Column("unit_id", BigId, sa.ForeignKey("units.id"), nullable=True, unique=True),
    sa.Column("dm_key", sa.String(200), nullable=True, unique=True),  # sorted member ids for direct channels
    sa.Column("read_only", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("head_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", TS, nullable=False),
)

channel_members = sa.Table(
    "channel_members",
    metadata,
    sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    sa.Column("role", sa.String(16), nullable=False, server_default="member"),  # member | admin
    sa.Column("last_read_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("joined_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("joined_at", TS, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("change_seq", sa.BigInteger, nullable=False),
    sa.Column("sender_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("client_msg_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # text | file | card | system
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("file_id", sa.String(32), sa.ForeignKey("files.id"), nullable=True, index=True),
    sa.Column("card", sa.JSON, nullable=True),
    sa.Column("mentions", sa.JSON, nullable=True),  # list of user ids
    sa.Column("thread_root_id", BigId, nullable=True, index=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("edited_at", TS, nullable=True),
    sa.Column("recalled_at", TS, nullable=True),
    sa.UniqueConstraint("channel_id", "seq", name="uq_messages_channel_seq"),
    sa.UniqueConstraint("channel_id", "change_seq", name="uq_messages_channel_change_seq"),
    sa.UniqueConstraint("sender_id", "client_msg_id", name="uq_messages_sender_client_msg_id"),
)

# Unread @mentions per member: one row per (member, message) that mentions them.
mentions = sa.Table(
    "mentions",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("message_id", BigId, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("channel_id", BigId, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Index("ix_mentions_user_channel_seq", "user_id", "channel_id", "seq"),
)
