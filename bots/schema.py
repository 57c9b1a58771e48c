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

# ---- workflows (bots/workflow/) ----------------------------------------------------------

# A flow definition's versions: the YAML as imported; a running instance keeps its own.
flow_definitions = sa.Table(
    "flow_definitions",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# An instance's whole state (the engine's Instance as JSON); `revision` makes two people
# acting at once on it apply one after the other: the second write finds it moved.
flow_instances = sa.Table(
    "flow_instances",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("flow_key", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("initiator_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("archived_at", TS, nullable=True),  # an `auto: archive` step passed: 归档
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sqlite_autoincrement=True,
)

# Every task of every instance, for 我的待办 / 已办 and to find a task's card.
flow_tasks = sa.Table(
    "flow_tasks",
    metadata,
    sa.Column("instance_id", BigId, sa.ForeignKey("flow_instances.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | waiting | done | cancelled
    sa.Column("kind", sa.String(16), nullable=False, server_default="task"),  # read: 传阅, for 抄送我的
    sa.Column("post_unit_id", BigId, nullable=True),  # the post it was given in (一人多岗): 待办 per post
    sa.Column("message_id", BigId, nullable=True),  # its card in the assignee's DM with the bot
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_flow_tasks_user_status", "user_id", "status"),
)

# 文号 counters: the next number of a counter (东政办发) in a unit and a year, taken in the
# transaction that moves the instance past its `auto: number` step, so a step that does
# not commit gives its number back: gap-free under concurrency.
flow_counters = sa.Table(
    "flow_counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("unit_id", BigId, primary_key=True),  # 0: not a unit's own
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)

# 流转记录, append-only and tamper-evident: each step of an instance's trail with the hash
# of the one before it (audit.py); `changtong flow verify INSTANCE` finds the first
# broken link.
flow_audit = sa.Table(
    "flow_audit",
    metadata,
    sa.Column("instance_id", BigId, sa.ForeignKey("flow_instances.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # 1, 2, … in the trail's order
    sa.Column("step", sa.JSON, nullable=False),  # the engine's Step: at, user, node, operation, opinion, target, post
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# 代理: a standing proxy — while it runs, the tasks given to `user_id` go to `proxy_id`,
# who acts in their place (the 流转记录 says so).
flow_proxies = sa.Table(
    "flow_proxies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("proxy_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("starts_at", TS, nullable=False),
    sa.Column("ends_at", TS, nullable=False),
    sa.Column("created_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sqlite_autoincrement=True,
)

# 车辆申请 and the like: what a step booked (a `book:` node's choice, e.g. 车辆) for the
# period the form gives. An instance holds one booking per booked field; it counts while
# the instance runs or has been approved, so a rejected or withdrawn request frees it.
flow_bookings = sa.Table(
    "flow_bookings",
    metadata,
    sa.Column("instance_id", BigId, sa.ForeignKey("flow_instances.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("field", sa.String(50), primary_key=True),
    sa.Column("resource", sa.String(100), nullable=False),
    sa.Column("starts_at", TS, nullable=False),
    sa.Column("ends_at", TS, nullable=False),
    sa.Index("ix_flow_bookings_resource", "field", "resource", "starts_at"),
)
