"""Tables of the hub kernel: the directory (units, users, posts), login tokens,
personal contacts and groups, and the metadata of stored files."""

from __future__ import annotations

import sqlalchemy as sa

from .db import BigId, metadata

TS = sa.DateTime(timezone=True)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", BigId, sa.ForeignKey("units.id"), nullable=True, index=True),
    sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pinyin", sa.String(800), nullable=False, server_default=""),
    sa.Column("initials", sa.String(200), nullable=False, server_default=""),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("pinyin", sa.String(400), nullable=False, server_default=""),
    sa.Column("initials", sa.String(100), nullable=False, server_default=""),
    sa.Column("title", sa.String(100), nullable=False, server_default=""),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("email", sa.String(200), nullable=False, server_default=""),
    sa.Column("roles", sa.String(400), nullable=False, server_default=""),  # space-separated
    sa.Column("is_bot", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
)

# A person holds one or more posts (职务) in units; the first post is primary.
posts = sa.Table(
    "posts",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", BigId, sa.ForeignKey("units.id", ondelete="CASCADE"), primary_key=True, index=True),
    sa.Column("title", sa.String(100), nullable=False, server_default=""),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("revoked_at", TS, nullable=True),
    sa.Column("client", sa.String(200), nullable=False, server_default=""),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("owner_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("contact_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
)

contact_groups = sa.Table(
    "contact_groups",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("owner_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("owner_id", "name"),
)

contact_group_members = sa.Table(
    "contact_group_members",
    metadata,
    sa.Column("group_id", BigId, sa.ForeignKey("contact_groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

# Metadata of an uploaded file; the bytes live in the content-addressed blob store.
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("mime", sa.String(120), nullable=False),
    sa.Column("uploader_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("width", sa.Integer, nullable=True),
    sa.Column("height", sa.Integer, nullable=True),
    sa.Column("has_thumbnail", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
)

# The transactional outbox of effects (hub/effects.py): work that is slow or talks to the
# outside, written in the transaction that decided it and done by a worker after commit.
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("due_at", TS, nullable=False, index=True),  # claimed: pushed past the run's lease
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("failed_at", TS, nullable=True),  # gave up after effects_max_attempts
    sqlite_autoincrement=True,  # ids are never reused: handlers derive idempotency keys from them
)
