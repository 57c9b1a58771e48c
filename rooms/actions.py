"""What users do in rooms. Each action authorises (`check_*` raise a HubError), stores
in one transaction, and pushes to the channel's Socket.IO room only after commit.

The delivery rules (docs/architecture.md): every change — a new message, an edit, a
recall, a card's new state — takes the channel's next seq in the transaction that stores
it; the ack goes out after commit; `(sender, client_msg_id)` makes a retried send return
the original; `sync` returns every change past the client's cursors, in seq order.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.config import Config
from hub.db import Database, after_commit, now
from hub.errors import BadRequest, Conflict, Forbidden, NotFound, TooLarge
from hub.metrics import Metrics
from hub.realtime import Realtime, channel_room
from hub.schema import files, users

from . import rules, store
from .hooks import RoomHooks
from .schema import channel_members, channels, mentions, messages

# Read receipts are pushed to the whole channel only where "N人已读" is shown.
RECEIPT_CHANNEL_MAX = 50

# The statements of a send, built once (SQLAlchemy then finds their compiled form in its
# cache by key, without building the statement again on every send).
_cm = channel_members
_SEND_THREAD_ROOT = sa.select(messages.c.channel_id, messages.c.thread_root_id).where(messages.c.id == sa.bindparam("mid"))
_SEND_FILE = sa.select(
    files.c.id, files.c.name, files.c.size, files.c.mime, files.c.has_thumbnail, files.c.uploader_id
).where(files.c.id == sa.bindparam("fid"))
_SEND_INSERT = messages.insert().returning(messages.c.id)
_SEND_MENTION_ROWS = mentions.insert()
_SEND_READ = (
    _cm.update()
    .where(_cm.c.channel_id == sa.bindparam("cid"), _cm.c.user_id == sa.bindparam("uid"))
    .values(last_read_seq=sa.bindparam("seq"))
)


class Rooms:
    def __init__(self, db: Database, realtime: Realtime, config: Config, metrics: Metrics) -> None:
        self.db = db
        self.realtime = realtime
        self.config = config
        self.metrics = metrics
        self.hooks = RoomHooks()

    # ---- checks -------------------------------------------------------------

    async def check_member(self, conn: AsyncConnection, channel_id: int, user_id: int) -> tuple[Any, Any]:
        """`member_of` inside an async transaction."""
        row = await conn.run_sync(member_of, channel_id, user_id)
        return row, row

    async def check_admin(self, conn: AsyncConnection, channel_id: int, who: Principal) -> Any:
        ch, member = await self.check_member(conn, channel_id, who.user_id)
        if member.role != "admin" and not who.is_admin:
            raise Forbidden("error.not_channel_admin")
        return ch

    async def _existing_users(self, conn: AsyncConnection, ids: list[int]) -> list[int]:
        ids = sorted(set(ids))
        found = set(
            (
                await conn.execute(sa.select(users.c.id).where(users.c.id.in_(ids), users.c.disabled == sa.false()))
            ).scalars()
        )
        if found != set(ids):
            raise NotFound("error.user_not_found")
        return ids

    # ---- channels -----------------------------------------------------------

    async def create_channel(self, who: Principal, req: rules.ChannelCreate) -> dict[str, Any]:
        async with self.db.begin() as conn:
            member_ids = await self._existing_users(conn, [m for m in req.member_ids if m != who.user_id])
            cid = await store.create_channel(
                conn, kind=req.kind, name=req.name, topic=req.topic, read_only=req.read_only, created_by=who.user_id
            )
            await store.add_member(conn, cid, who.user_id, role="admin")
            for uid in member_ids:
                await store.add_member(conn, cid, uid)
            self._after_join(conn, cid, [who.user_id, *member_ids])
        return await self.channel_for(who.user_id, cid)

    async def channel_for(self, user_id: int, channel_id: int) -> dict[str, Any]:
        views = await self.db.read(store.channel_views, user_id, [channel_id])
        if not views:
            raise NotFound("error.channel_not_found")
        return views[0]

    def _after_join(self, conn: AsyncConnection, channel_id: int, user_ids: list[int]) -> None:
        async def push() -> None:
            for uid in user_ids:
                view = await self.channel_for(uid, channel_id)
                await self.realtime.join_user(uid, channel_room(channel_id), push=("channel", view))

        after_commit(conn, push)

    async def list_channels(self, who: Principal, req: rules.ChannelList) -> list[dict[str, Any]]:
        if req.scope == "public":
            return await self.db.read(store.public_channels)
        return await self.db.read(store.channel_views, who.user_id)

    async def join(self, who: Principal, channel_id: int) -> dict[str, Any]:
        async with self.db.begin() as conn:
            ch = await store.channel(conn, channel_id)
            if ch is None or (ch.kind != "public" and not await store.membership(conn, channel_id, who.user_id)):
                raise NotFound("error.channel_not_found")
            if await store.add_member(conn, channel_id, who.user_id):
                self._after_join(conn, channel_id, [who.user_id])
        return await self.channel_for(who.user_id, channel_id)

    async def ensure_publisher(self, channel_id: int, user_id: int) -> None:
        """A feature's bot becomes a publisher of a channel its feature posts into (the
        flow's channel, a document's desk channel, which may be read-only): a member with
        the channel's admin role. The feature, not a person, decides it belongs there, so
        no channel administrator is asked. Not for direct or unit channels."""
        async with self.db.begin() as conn:
            ch = await store.channel(conn, channel_id)
            if ch is None or ch.kind in ("direct", "unit"):
                raise NotFound("error.channel_not_found")
            if await store.add_member(conn, channel_id, user_id, role="admin"):
                self._after_join(conn, channel_id, [user_id])
            else:
                await conn.execute(
                    channel_members.update().where(channel_members.c.channel_id == channel_id, channel_members.c.user_id == user_id).values(role="admin")
                )

    async def add_members(self, who: Principal, req: rules.ChannelAddMembers) -> dict[str, Any]:
        async with self.db.begin() as conn:
            ch = await self.check_admin(conn, req.channel_id, who)
            if ch.kind in ("direct", "unit"):
                raise Forbidden("error.channel_membership_fixed")
            added = [uid for uid in await self._existing_users(conn, req.user_ids) if await store.add_member(conn, ch.id, uid)]
            self._after_join(conn, ch.id, added)
        return {"added": added}

    async def leave(self, who: Principal, channel_id: int) -> None:
        async with self.db.begin() as conn:
            ch, _ = await self.check_member(conn, channel_id, who.user_id)
            if ch.kind in ("direct", "unit"):
                raise Forbidden("error.channel_membership_fixed")
            await store.remove_member(conn, channel_id, who.user_id)

            async def push() -> None:
                removed = {"channel_id": channel_id}
                await self.realtime.leave_user(who.user_id, channel_room(channel_id), push=("channel:removed", removed))

            after_commit(conn, push)

    async def members(self, who: Principal, channel_id: int) -> list[dict[str, Any]]:
        def listing(conn: sa.Connection) -> list[dict[str, Any]]:
            member_of(conn, channel_id, who.user_id)
            return store.members_view(conn, channel_id)

        return await self.db.read(listing)

    async def update_channel(self, who: Principal, req: rules.ChannelUpdate) -> dict[str, Any]:
        values = {k: v for k, v in (("name", req.name), ("topic", req.topic), ("read_only", req.read_only)) if v is not None}
        async with self.db.begin() as conn:
            ch = await self.check_admin(conn, req.channel_id, who)
            if "name" in values and ch.kind in ("direct", "unit"):
                raise Forbidden("error.channel_name_fixed")
            changed = {k: v for k, v in values.items() if getattr(ch, k) != v}
            if changed:
                await conn.execute(channels.update().where(channels.c.id == ch.id).values(**changed))

                async def push() -> None:
                    await self.realtime.emit_to_channel(ch.id, "channel:update", {"channel_id": ch.id, **changed})

                after_commit(conn, push)
        return await self.channel_for(who.user_id, req.channel_id)

    async def set_role(self, who: Principal, req: rules.ChannelSetRole) -> None:
        async with self.db.begin() as conn:
            await self.check_admin(conn, req.channel_id, who)
            result = await conn.execute(
                channel_members.update()
                .where(channel_members.c.channel_id == req.channel_id, channel_members.c.user_id == req.user_id)
                .values(role=req.role)
            )
            if result.rowcount == 0:
                raise NotFound("error.user_not_found")

    async def open_dm(self, who: Principal, req: rules.DmOpen) -> dict[str, Any]:
        others = set(req.user_ids or []) | ({req.user_id} if req.user_id else set())
        others.discard(who.user_id)
        if not others:
            raise BadRequest("error.bad_request")
        key = ",".join(str(i) for i in sorted(others | {who.user_id}))
        try:
            existing = await self._open_dm_tx(who, others, key)
        except sa.exc.IntegrityError:
            # Two first opens raced (both people at once, or a bot's two cards to one
            # person on PostgreSQL): the other made the channel; this one takes it.
            existing = await self._open_dm_tx(who, others, key)
        return await self.channel_for(who.user_id, existing)

    async def _open_dm_tx(self, who: Principal, others: set[int], key: str) -> int:
        async with self.db.begin() as conn:
            existing = (await conn.execute(sa.select(channels.c.id).where(channels.c.dm_key == key))).scalar()
            if existing is None:
                ids = await self._existing_users(conn, sorted(others))
                existing = await store.create_channel(conn, kind="direct", dm_key=key, created_by=who.user_id)
                for uid in [who.user_id, *ids]:
                    await store.add_member(conn, existing, uid)
                # The members' connections join the room before the commit makes the
                # channel visible: a first message sent by whoever finds it next (a second
                # card to the same person) must not reach the room before they are in it.
                # (Rolled back, the room stays empty: nothing is ever sent to it.)
                for uid in [who.user_id, *ids]:
                    await self.realtime.join_user(uid, channel_room(existing))
                self._after_join(conn, existing, [who.user_id, *ids])
        return int(existing)

    # ---- unit channels follow the directory -----------------------------------

    async def on_unit_added(self, conn: AsyncConnection, unit: dict[str, Any]) -> None:
        await store.create_channel(conn, kind="unit", name=unit["name"][:100], unit_id=unit["id"])

    async def on_unit_changed(self, conn: AsyncConnection, unit: dict[str, Any]) -> None:
        await conn.execute(
            channels.update().where(channels.c.unit_id == unit["id"]).values(name=unit["name"][:100], archived=unit["disabled"])
        )

    async def _unit_channel(self, conn: AsyncConnection, unit_id: int) -> int | None:
        return (await conn.execute(sa.select(channels.c.id).where(channels.c.unit_id == unit_id))).scalar()

    async def on_post_added(self, conn: AsyncConnection, user_id: int, unit_id: int) -> None:
        cid = await self._unit_channel(conn, unit_id)
        if cid is not None and await store.add_member(conn, cid, user_id):
            self._after_join(conn, cid, [user_id])

    async def on_post_removed(self, conn: AsyncConnection, user_id: int, unit_id: int) -> None:
        cid = await self._unit_channel(conn, unit_id)
        if cid is not None and await store.remove_member(conn, cid, user_id):

            async def push() -> None:
                removed = {"channel_id": cid}
                await self.realtime.leave_user(user_id, channel_room(cid), push=("channel:removed", removed))

            after_commit(conn, push)

    # ---- messages -------------------------------------------------------------

    def _check_text(self, text: str, required: bool) -> str:
        if len(text) > self.config.max_message_chars:
            raise TooLarge("error.message_too_long", limit=self.config.max_message_chars)
        if required and not text.strip():
            raise BadRequest("error.empty_message")
        return text

    async def _mention_ids(self, conn: AsyncConnection, channel_id: int, text: str) -> list[int]:
        return await conn.run_sync(store.mentioned_ids, channel_id, rules.mentioned_usernames(text))

    async def _store_mentions(
        self, conn: AsyncConnection, message_id: int, channel_id: int, seq: int, user_ids: list[int], author_id: int,
        new: bool = False,
    ) -> None:
        """The message's unread-mention rows are exactly its current mentions (not the author)."""
        if not new:
            await conn.execute(mentions.delete().where(mentions.c.message_id == message_id))
        for uid in dict.fromkeys(user_ids):
            if uid != author_id:
                await conn.execute(mentions.insert().values(user_id=uid, message_id=message_id, channel_id=channel_id, seq=seq))

    async def send(self, who: Principal, req: rules.MessageSend, *, kind: str = "text", card: Any = None) -> dict[str, Any]:
        """Store a message and push it. The hot path: one synchronous transaction
        (`send_tx`, run by `hub.db.write`: SQLite's writer thread, or `run_sync` on
        PostgreSQL), the push after the commit, the ack after the push."""
        text = self._check_text(req.text, required=req.file_id is None and card is None)
        try:
            view = await self.db.write(self.send_tx, who, req, text, kind, card)
        except sa.exc.IntegrityError:
            # A retry (or a concurrent twin) of a stored send: return the original.
            async with self.db.connect() as conn:
                original = await store.message_by_client_id(conn, who.user_id, req.client_msg_id)
            if original is None:
                raise
            return original
        self.metrics.messages_stored.labels(view["kind"]).inc()
        return view

    def post_in(
        self, conn: sa.Connection, who: Principal, req: rules.MessageSend, *, kind: str = "text", card: Any = None
    ) -> dict[str, Any]:
        """Send inside the caller's transaction, so a feature stores its own rows and the
        message that announces them together or not at all. `conn` is a synchronous
        connection: the one `Database.write(fn)` gives `fn`, or inside
        `async with db.begin() as aconn` the one of `await aconn.run_sync(...)`. The
        push and the hooks follow the caller's commit. A repeated `client_msg_id` of the
        same sender raises IntegrityError (the caller's transaction must then roll back)."""
        text = self._check_text(req.text, required=req.file_id is None and card is None)
        return self.send_tx(conn, who, req, text, kind, card)

    def send_tx(
        self, conn: sa.Connection, who: Principal, req: rules.MessageSend, text: str, kind: str, card: Any
    ) -> dict[str, Any]:
        """The send transaction (`text` already checked): check the channel and the membership (one query), then
        read-only, thread root and file ownership; resolve @mentions among members; take
        the channel's next seq (`UPDATE … RETURNING`: the row lock serialises senders and
        a rollback returns the number); insert the message, its mention rows, and move
        the sender's read position. A retried send (same `(sender, client_msg_id)`) fails
        the unique constraint at the insert and rolls back, its seq with it. The pushed
        view is built from what was written, not read back."""
        uid = who.user_id
        ch = store.channel_as_member(conn, req.channel_id, uid)
        if ch is None:
            raise NotFound("error.channel_not_found")
        if ch.archived:
            raise Forbidden("error.channel_archived")
        if ch.read_only and ch.role != "admin":
            raise Forbidden("error.channel_read_only")
        cid = ch.id
        if req.thread_root_id is not None:
            root = conn.execute(_SEND_THREAD_ROOT, {"mid": req.thread_root_id}).first()
            if root is None or root.channel_id != cid or root.thread_root_id is not None:
                raise BadRequest("error.bad_thread_root")
        file = None
        if req.file_id is not None:
            f = conn.execute(_SEND_FILE, {"fid": req.file_id}).first()
            if f is None or f.uploader_id != uid:
                raise NotFound("error.file_not_found")
            kind = "file"
            file = {"file_id": f.id, "name": f.name, "size": f.size, "mime": f.mime, "thumbnail": bool(f.has_thumbnail)}
        mention_ids = store.mentioned_ids(conn, cid, rules.mentioned_usernames(text))
        seq = conn.execute(store.NEXT_SEQ, {"cid": cid}).scalar_one()
        values = {
            "channel_id": cid,
            "seq": seq,
            "change_seq": seq,
            "sender_id": uid,
            "client_msg_id": req.client_msg_id,
            "kind": kind,
            "text": text,
            "file_id": req.file_id,
            "card": card,
            "mentions": mention_ids or None,
            "thread_root_id": req.thread_root_id,
            "created_at": now(),
        }
        message_id = conn.execute(_SEND_INSERT, values).scalar_one()
        mentioned = [u for u in dict.fromkeys(mention_ids) if u != uid]
        if mentioned:
            conn.execute(
                _SEND_MENTION_ROWS,
                [{"user_id": u, "message_id": message_id, "channel_id": cid, "seq": seq} for u in mentioned],
            )
        # The sender has read what they wrote.
        conn.execute(_SEND_READ, {"cid": cid, "uid": uid, "seq": seq})
        sender = {"id": uid, "username": who.username, "display_name": who.display_name, "is_bot": who.is_bot}
        view = store.message_view({"id": message_id, "edited_at": None, "recalled_at": None, **values}, sender, file)
        after_commit(conn, partial(self.realtime.emit_to_channel, cid, "message", view))
        if self.hooks.message_posted:
            after_commit(conn, partial(self._posted, view))
        return view

    async def _posted(self, view: dict[str, Any]) -> None:
        self.hooks.posted(view)

    async def _change(self, conn: AsyncConnection, message_id: int, channel_id: int, **values: Any) -> dict[str, Any]:
        """Apply a change to a message: it takes the channel's next seq."""
        seq = await store.next_seq(conn, channel_id)
        await conn.execute(messages.update().where(messages.c.id == message_id).values(change_seq=seq, **values))
        view = await store.message_by_id(conn, message_id)
        assert view is not None

        async def push() -> None:
            await self.realtime.emit_to_channel(channel_id, "message:update", view)

        after_commit(conn, push)
        return view

    async def edit(self, who: Principal, req: rules.MessageEdit) -> dict[str, Any]:
        text = self._check_text(req.text, required=True)
        async with self.db.begin() as conn:
            row = await store.raw_message(conn, req.message_id)
            if row is None:
                raise NotFound("error.message_not_found")
            await self.check_member(conn, row.channel_id, who.user_id)
            if row.sender_id != who.user_id:
                raise Forbidden("error.not_your_message")
            if row.recalled_at is not None or row.kind != "text":
                raise Conflict("error.message_not_editable")
            mention_ids = await self._mention_ids(conn, row.channel_id, text)
            await self._store_mentions(conn, row.id, row.channel_id, row.seq, mention_ids, who.user_id)
            return await self._change(conn, row.id, row.channel_id, text=text, edited_at=now(), mentions=mention_ids or None)

    async def recall(self, who: Principal, message_id: int) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await store.raw_message(conn, message_id)
            if row is None:
                raise NotFound("error.message_not_found")
            _, member = await self.check_member(conn, row.channel_id, who.user_id)
            if row.recalled_at is not None:
                raise Conflict("error.already_recalled")
            is_admin = member.role == "admin" or who.is_admin
            if not is_admin:
                if row.sender_id != who.user_id:
                    raise Forbidden("error.not_your_message")
                created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now().tzinfo)
                if now() - created > timedelta(seconds=self.config.recall_window_seconds):
                    raise Forbidden("error.recall_window_passed", minutes=round(self.config.recall_window_seconds / 60, 1))
            await conn.execute(mentions.delete().where(mentions.c.message_id == row.id))
            return await self._change(conn, row.id, row.channel_id, recalled_at=now(), text="", card=None)

    async def update_card(self, conn: AsyncConnection, message_id: int, card: dict[str, Any]) -> dict[str, Any]:
        """A card's new state is a change like an edit (for card handlers)."""
        row = await store.raw_message(conn, message_id)
        if row is None or row.kind != "card":
            raise NotFound("error.message_not_found")
        return await self._change(conn, row.id, row.channel_id, card=card)

    # ---- reading ------------------------------------------------------------------

    # Reads are synchronous functions run by `hub.db.read` (on SQLite one thread hop on a
    # pooled connection; run_sync on PostgreSQL).

    async def history(self, who: Principal, req: rules.History) -> dict[str, Any]:
        limit = min(req.limit, self.config.history_page_max)

        def page(conn: sa.Connection) -> dict[str, Any]:
            member_of(conn, req.channel_id, who.user_id)
            rows, has_more = store.history(conn, req.channel_id, req.before_seq, limit, req.thread_root_id)
            return {"messages": rows, "has_more": has_more}

        return await self.db.read(page)

    async def sync(self, who: Principal, req: rules.Sync) -> dict[str, Any]:
        """Every change the user missed in every channel they belong to, paged.
        A channel without a cursor starts from the member's read position."""
        return await self.db.read(sync_page, who.user_id, req.cursors, min(req.limit, self.config.sync_page_max))

    async def mark_read(self, who: Principal, req: rules.Read) -> dict[str, Any]:
        async with self.db.begin() as conn:
            ch, member = await self.check_member(conn, req.channel_id, who.user_id)
            seq = min(req.seq, ch.head_seq)
            if seq <= member.last_read_seq:
                return {"seq": member.last_read_seq}  # read positions only move forward
            await conn.execute(
                channel_members.update()
                .where(channel_members.c.channel_id == ch.id, channel_members.c.user_id == who.user_id)
                .values(last_read_seq=seq)
            )
            small = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(channel_members).where(channel_members.c.channel_id == ch.id)
                )
            ).scalar_one() <= RECEIPT_CHANNEL_MAX
            event = {"channel_id": ch.id, "user_id": who.user_id, "seq": seq}

            async def push() -> None:
                if small:
                    await self.realtime.emit_to_channel(ch.id, "read", event)
                else:
                    await self.realtime.emit_to_user(who.user_id, "read", event)

            after_commit(conn, push)
        return {"seq": seq}


def member_of(conn: sa.Connection, channel_id: int, user_id: int) -> Any:
    """The channel's row with the caller's `role` and `last_read_seq` (one query); a
    non-member learns nothing (not_found)."""
    row = store.channel_as_member(conn, channel_id, user_id)
    if row is None:
        raise NotFound("error.channel_not_found")
    return row


def sync_page(conn: sa.Connection, user_id: int, cursors: dict[int, int], budget: int) -> dict[str, Any]:
    """One page of `sync`: the changes past each cursor, channel by channel, until the
    page's budget is spent; the cursors to send next time; `channels` once drained."""
    out: list[dict[str, Any]] = []
    next_cursors: dict[str, int] = {}
    has_more = False
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.head_seq, channel_members.c.last_read_seq)
        .join(channel_members, channel_members.c.channel_id == channels.c.id)
        .where(channel_members.c.user_id == user_id)
        .order_by(channels.c.id)
    ).all()
    for r in rows:
        cursor = cursors.get(r.id, r.last_read_seq)
        if r.head_seq <= cursor:
            next_cursors[str(r.id)] = min(cursor, r.head_seq)
            continue
        if budget <= 0:
            has_more = True
            next_cursors[str(r.id)] = cursor
            continue
        page = store.changes_since(conn, r.id, cursor, budget)
        full = len(page) == budget
        budget -= len(page)
        out.extend(page)
        if full and page[-1]["change_seq"] < r.head_seq:
            has_more = True
            next_cursors[str(r.id)] = page[-1]["change_seq"]
        else:
            # A change committed after the head was read may be on the page already (each
            # statement reads its own snapshot): the cursor covers what was sent. Changes
            # of a channel commit in seq order, so a page never skips one.
            next_cursors[str(r.id)] = max(r.head_seq, page[-1]["change_seq"]) if page else r.head_seq
    result: dict[str, Any] = {"messages": out, "cursors": next_cursors, "has_more": has_more}
    if not has_more:  # once per drain, not on every page of a long catch-up
        result["channels"] = store.channel_views(conn, user_id)
    return result
