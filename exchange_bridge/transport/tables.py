"""Tables of the document exchange.

- `exchange_peers`: the nodes we know, by unit code; each with its pinned certificate
  and either a URL (a direct neighbour) or `via` (reached through a neighbour, e.g. a
  county reached through the city).
- `exchange_outbox`: what is still to be POSTed to a neighbour (a package, a relayed
  package, a receipt): durable, retried with backoff until the neighbour answers.
- `exchange_tracking`: the sender's view of a sent package, one row per recipient unit:
  queued → sent → delivered → signed → read, or returned (退回) with a reason.
- `exchange_received`: every message id that reached this node (dedup on arrival).
- `exchange_inbox`: packages addressed to this node, with the recipient's status.
- `exchange_quarantine`: what failed verification, with the reason; never dropped.

The bytes of packages live in files under `<data_dir>/exchange/` (`path` columns).
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import BigId, metadata

TS = sa.DateTime(timezone=True)

exchange_peers = sa.Table(
    "exchange_peers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # the peer's unit code (its certificate's CN)
    sa.Column("url", sa.String(500), nullable=False, server_default=""),
    sa.Column("via", sa.String(64), nullable=True),
    sa.Column("cert_pem", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
)

exchange_outbox = sa.Table(
    "exchange_outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # package | receipt
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("hop", sa.String(64), nullable=False),  # the neighbour it is POSTed to
    sa.Column("sender", sa.String(64), nullable=False),  # the unit that signed it
    sa.Column("units", sa.JSON, nullable=False),  # final recipients carried on this hop
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("relayed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("state", sa.String(16), nullable=False, server_default="pending"),  # pending | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("claimed_until", TS, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("done_at", TS, nullable=True),
    sa.UniqueConstraint("kind", "message_id", "hop"),
    sa.Index("ix_exchange_outbox_due", "state", "next_attempt_at"),
)

exchange_tracking = sa.Table(
    "exchange_tracking",
    metadata,
    sa.Column("package_id", sa.String(64), primary_key=True),
    sa.Column("unit", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("acted_by", sa.String(100), nullable=False, server_default=""),  # who signed for or returned it there
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

exchange_received = sa.Table(
    "exchange_received",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # arrival | relayed | receipt | quarantined
    sa.Column("hop", sa.String(64), nullable=False),
    sa.Column("received_at", TS, nullable=False),
)

exchange_inbox = sa.Table(
    "exchange_inbox",
    metadata,
    sa.Column("package_id", sa.String(64), primary_key=True),
    sa.Column("sender", sa.String(64), nullable=False),
    sa.Column("title", sa.String(500), nullable=False, server_default=""),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # delivered | signed | read | returned
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

exchange_quarantine = sa.Table(
    "exchange_quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("hop", sa.String(64), nullable=False),
    sa.Column("sender", sa.String(64), nullable=False),  # as claimed, not proven
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("detail", sa.String(1000), nullable=False, server_default=""),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("received_at", TS, nullable=False),
)
