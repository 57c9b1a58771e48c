"""The workflow bot (流程助手): it brings each task to the person who must act, as a card
in their DM with the bot, and takes their decision there, by a button or by a reply such
as "同意，请办公室抓紧落实" (replies.py). The card updates in place for everyone after
each step (the `flow.cards` effect), and the next assignees get theirs (`flow.notify`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.cards import Acted, Card, CardAction, CardActionContext, CardField, CardStatus
from hub.db import DATABASE
from hub.effects import Effect
from hub.errors import Conflict, Forbidden, HubError, NotFound, Unavailable
from hub.i18n import translate as t
from hub.realtime import REALTIME
from hub.schema import users
from rooms.notices import post_notice
from rooms.rules import NoticePost
from rooms.schema import channels, messages
from rooms.wiring import CARDS, ROOMS

from ..clock import moment
from ..forms import fields as forms
from ..runtime import Bot, Incoming
from ..schema import flow_tasks
from . import bookings, engine, service
from .definition import FlowDefinition, Node
from .hooks import FLOW_HOOKS
from .replies import ON_DONE, TO_SOMEONE, parse_reply

log = logging.getLogger(__name__)

ACTIONS = ("approve", "reject", "return", "read", "claim", "attend", "decline")


Choice = tuple[str, str, list[str]]  # (field, its label, the options offered now)


DEFAULT_PHRASES = ("flow.phrase.agree", "flow.phrase.agree_up", "flow.phrase.as_rules", "flow.phrase.hurry")


def phrases_of(defn: FlowDefinition, node: Node) -> list[str]:
    """常用意见 at a step: its own, else the flow's, else the hub's."""
    return list(node.phrases or defn.phrases) or [t(key) for key in DEFAULT_PHRASES]


def _buttons(task: engine.Task, required: str, choice: Choice | None = None, phrases: list[str] | None = None) -> list[CardAction]:
    """The buttons the task's kind allows: 已阅 for a 传阅; 认领 first for a task offered to
    several; a delegate or an earlier signer approves (or, before, declines). Where the
    step fills a choice (派车: 车辆), 同意 offers its options; with none free, no 同意.
    同意's opinion box offers the step's 常用意见."""
    picks = {"choices": choice[2], "choice_label": choice[1]} if choice and choice[2] else {}
    approve = CardAction(id="approve", label=t("flow.action.approve"), style="primary", comment=required, phrases=phrases or None, **picks)
    reject = CardAction(id="reject", label=t("flow.action.reject"), style="danger", comment="required")
    back = CardAction(id="return", label=t("flow.action.return"), comment="required")
    if task.kind == "read":
        return [CardAction(id="read", label=t("flow.action.read"), style="primary", comment="optional")]
    if task.kind == "rsvp":
        return [
            CardAction(id="attend", label=t("flow.action.attend"), style="primary", comment="optional"),
            CardAction(id="decline", label=t("flow.action.decline"), comment="required"),
        ]
    if task.kind == "delegated":
        return [approve]
    if task.kind == "before":
        return [approve, reject]
    if choice and not choice[2]:
        return [reject, back]
    if task.pool:
        return [CardAction(id="claim", label=t("flow.action.claim"), style="primary"), approve, reject, back]
    return [approve, reject, back]


def choice_of(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, task: engine.Task) -> Choice | None:
    """The one select field an open task's step fills, with the options free now (a
    `book:` step's: those no other booking holds for the form's period)."""
    if task.kind != "task" or task.status != "open" or inst.status != "running":
        return None
    node = defn.nodes[task.node]
    editable = defn.editable(node.id)
    selects = [f for f in defn.form if f.name in editable and f.kind == "select"]
    if len(selects) != 1:
        return None
    f = selects[0]
    free = bookings.free_choices(conn, defn, inst, node) if node.book and node.book[0] == f.name else None
    return f.name, f.shown, list(f.options) if free is None else free


def render_task(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, title: str, task: engine.Task, names: dict[int, str] | None = None, units: dict[int, str] | None = None) -> Card:
    """A task's card as the bot posts it, from the instance as it is in `conn`."""
    return task_card(
        defn, inst, title, task, names if names is not None else service.names_of(conn, inst),
        units if units is not None else service.unit_names_of(conn, inst), choice_of(conn, defn, inst, task),
    )


def _who(user: int, proxy_for: int | None, names: dict[int, str]) -> str:
    """李四, or 李四（代 王局长） for a standing proxy."""
    name = names.get(user, str(user))
    return t("flow.card.proxy", name=name, of=names.get(proxy_for, str(proxy_for))) if proxy_for else name


def task_card(
    defn: FlowDefinition, inst: engine.Instance, title: str, task: engine.Task, names: dict[int, str], units: dict[int, str] | None = None,
    choice: Choice | None = None,
) -> Card:
    """The card of one task, from the instance's state and the choice its step offers (pure)."""
    node = defn.nodes[task.node]
    if task.status == "open" and inst.status == "running":
        status = CardStatus(text=t("flow.status.open"), tone="warning")
        actions = _buttons(task, "required" if node.opinion == "required" else "optional", choice, phrases_of(defn, node))
    else:
        # a task the instance's end closed (rejected, withdrawn, approved elsewhere) says how it ended
        ended_it = task.decision == "cancelled" and inst.status != "running"
        key = f"flow.status.{inst.status}" if ended_it else f"flow.status.{task.decision or 'cancelled'}"
        if task.status == "waiting" and inst.status == "running":
            key = "flow.status.waiting"  # for a delegate or a signer before; it comes back
        tone = "success" if task.decision == "approve" or inst.status == "approved" else ("danger" if task.decision == "reject" else "info")
        status, actions = CardStatus(text=t(key)[:50], tone=tone), []
    opinions = "；".join(
        f"{_who(s.user, s.proxy_for, names)} {t('flow.op.' + s.operation)}" + (f"：{s.opinion}" if s.opinion else "")
        for s in inst.trail
    )
    shown = service.shown_fields(inst.form, [forms.public(f) for f in defn.form])
    form_fields = [CardField(label=k[:50], value=v[:2000]) for k, v in shown[:6]]
    current = engine.open_tasks(inst)
    step = defn.nodes[current[0].node].name if current else t(f"flow.status.{inst.status}")
    return Card(
        handler="x",  # BotHub.post_card sets the bot's own
        title=t("flow.card.title", flow=defn.name, title=title)[:200],
        status=status,
        fields=[
            CardField(label=t("flow.card.initiator"), value=names.get(inst.initiator, str(inst.initiator))),
            # 一人多岗: the post this task was given in, so a person with two knows in which capacity
            *([CardField(label=t("flow.card.post"), value=units[task.post])] if units and task.post in units else []),
            *form_fields,
            CardField(label=t("flow.card.step"), value=step or "—"),
            CardField(label=t("flow.card.opinions"), value=opinions[:2000] or "—"),
            *([CardField(label=choice[1][:50], value=t("flow.card.none_free"))] if choice and not choice[2] and actions else []),
        ],
        actions=actions,
        data={"instance_id": inst.id, "task_id": task.id, **({"choice_field": choice[0]} if choice and actions else {})},
    )


def tally_card(defn: FlowDefinition, inst: engine.Instance, title: str, node_id: str, round_: int, names: dict[int, str]) -> Card:
    """会议通知's tally for its organiser: who comes, who asked for leave and why, who
    has not answered — updated as each invitee answers."""
    tasks = [x for x in inst.tasks if x.node == node_id and x.round == round_ and x.kind == "rsvp"]
    reasons = {x.id: next((s.opinion for s in reversed(inst.trail) if s.node == node_id and s.user == x.user and s.operation == "decline"), "") for x in tasks}
    coming = [names.get(x.user, str(x.user)) for x in tasks if x.decision == "attend"]
    away = [names.get(x.user, str(x.user)) + (f"（{reasons[x.id]}）" if reasons[x.id] else "") for x in tasks if x.decision == "decline"]
    waiting = [names.get(x.user, str(x.user)) for x in tasks if x.status == "open"]
    node = defn.nodes[node_id]
    starts = service.meeting_start(inst.form, node.starts_field) if node.starts_field else None
    return Card(
        handler="x",
        title=t("flow.tally.title", title=title)[:200],
        status=CardStatus(text=t("flow.tally.status", coming=len(coming), away=len(away), waiting=len(waiting))[:50], tone="info" if waiting else "success"),
        fields=[
            *([CardField(label=t("flow.tally.when"), value=moment(starts))] if starts else []),
            CardField(label=t("flow.tally.coming"), value="、".join(coming)[:2000] or "—"),
            CardField(label=t("flow.tally.away"), value="；".join(away)[:2000] or "—"),
            CardField(label=t("flow.tally.waiting"), value="、".join(waiting)[:2000] or "—"),
        ],
        data={"instance_id": inst.id, "tally": node_id, "round": round_},
    )


def state_card(defn: FlowDefinition, inst: engine.Instance, title: str, names: dict[int, str]) -> Card:
    """The instance as its channel follows it (the flow's, or the document's desk
    channel): where it stands, who holds it, the last step, how it ended (pure)."""
    held = engine.held(inst)
    steps = list(dict.fromkeys(defn.nodes[x.node].name or x.node for x in held))
    last = next((s for s in reversed(inst.trail) if s.user != engine.SYSTEM), None)
    tone = {"running": "warning", "approved": "success", "rejected": "danger"}.get(inst.status, "info")
    return Card(
        handler="x",
        title=t("flow.card.title", flow=defn.name, title=title)[:200],
        status=CardStatus(text=t(f"flow.status.{inst.status}"), tone=tone),
        fields=[
            CardField(label=t("flow.card.initiator"), value=names.get(inst.initiator, str(inst.initiator))),
            *([CardField(label=t("flow.state.number"), value=str(inst.form["文号"])[:200])] if inst.form.get("文号") else []),
            CardField(label=t("flow.card.step"), value="、".join(steps)[:2000] or t(f"flow.status.{inst.status}")),
            *([CardField(label=t("flow.state.holders"), value="、".join(dict.fromkeys(
                t("flow.subflow.holder") if x.kind == "subflow" else names.get(x.user, str(x.user)) for x in held
            ))[:2000])] if held else []),
            *([CardField(label=t("flow.state.last"), value=(
                f"{_who(last.user, last.proxy_for, names)} {t('flow.op.' + last.operation)}" + (f"：{last.opinion}" if last.opinion else "")
            )[:2000])] if last else []),
        ],
        data={"instance_id": inst.id, "state": True},
    )


def urge_card(defn: FlowDefinition, inst: engine.Instance, title: str, task: engine.Task, step: engine.Step, names: dict[int, str]) -> Card:
    """催办: the holder's task waits — pressed by the initiator, or its deadline passed."""
    by = t("flow.urge.by_deadline") if step.user == engine.SYSTEM else t("flow.urge.by_person", name=names.get(step.user, str(step.user)))
    return Card(
        handler="x",
        title=t("flow.urge.title", flow=defn.name, title=title)[:200],
        status=CardStatus(text=t("flow.status.urged"), tone="warning"),
        fields=[
            CardField(label=t("flow.card.step"), value=defn.nodes[task.node].name or task.node),
            CardField(label=t("flow.urge.from"), value=by[:2000]),
            *([CardField(label=t("flow.card.opinions"), value=step.opinion[:2000])] if step.opinion else []),
        ],
        body=t("flow.urge.text"),
        data={"instance_id": inst.id, "task_id": task.id, "urge": True},
    )


class WorkflowBot(Bot):
    username = "liucheng-bot"
    display_name = t("flow.bot_name")

    def __init__(self, app: web.Application) -> None:
        self.app = app

    # ---- acting: a button, a reply, or REST (api.py), all through service.act ---------

    async def on_card_action(self, conn: AsyncConnection, ctx: CardActionContext) -> Acted:
        if ctx.action not in ACTIONS:
            raise Conflict("error.card_action_gone")
        instance_id, task_id = int(ctx.card.data["instance_id"]), int(ctx.card.data["task_id"])
        to = "previous" if ctx.action == "return" else None
        picked = {str(ctx.card.data["choice_field"]): ctx.choice} if ctx.choice and "choice_field" in ctx.card.data else None
        op = engine.Operation(ctx.action, task_id, ctx.comment, to, form=picked)  # type: ignore[arg-type]

        def acted(c: sa.Connection) -> Card:  # act queues the flow's own effects; the card is the new state's
            defn, inst, title = service.act(c, ctx.actor.user_id, instance_id, op)
            task = next(x for x in inst.tasks if x.id == task_id)
            return render_task(c, defn, inst, title, task).model_copy(update={"handler": self.hub.card_handler})

        return Acted(await conn.run_sync(acted))

    async def on_message(self, incoming: Incoming) -> None:
        if not incoming.direct:
            return
        user = incoming.sender["id"]
        reply = parse_reply(incoming.text)
        answer_id = f"flow-re-{incoming.message['id']}"
        if reply is None:
            await self.hub.say(incoming.channel_id, t("flow.reply.help"), client_msg_id=answer_id)
            return
        if reply.kind in ON_DONE:
            await self.hub.say(incoming.channel_id, await self._on_done(user, reply), client_msg_id=answer_id)
            return
        todo = await self.app[DATABASE].read(service.tasks_of, user, "todo")
        if not todo:
            await self.hub.say(incoming.channel_id, t("flow.reply.none"), client_msg_id=answer_id)
            return
        if reply.number is None and len(todo) > 1:
            listing = "\n".join(f"{i}. {row['title']}" for i, row in enumerate(todo, 1))
            await self.hub.say(incoming.channel_id, t("flow.reply.which", n=len(todo), list=listing), client_msg_id=answer_id)
            return
        index = (reply.number or 1) - 1
        if not 0 <= index < len(todo):
            await self.hub.say(incoming.channel_id, t("flow.reply.no_number", number=reply.number), client_msg_id=answer_id)
            return
        row = todo[index]
        to: str | int | None = "previous" if reply.kind == "return" else None
        found = None
        if reply.kind in TO_SOMEONE:
            found = await self.app[DATABASE].read(_user_named, reply.to or "")
            if found is None:
                await self.hub.say(incoming.channel_id, t("flow.reply.no_user", name=reply.to), client_msg_id=answer_id)
                return
            to = found[0]
        kind = "add_sign" if reply.kind == "add_sign_before" else reply.kind
        position = "before" if reply.kind == "add_sign_before" else "after"
        op = engine.Operation(kind, row["task_id"], reply.opinion, to, position)  # type: ignore[arg-type]
        try:
            await self.app[DATABASE].write(service.act, user, row["instance_id"], op)
        except HubError as exc:
            await self.hub.say(incoming.channel_id, t(exc.key, **exc.params), client_msg_id=answer_id)
            return
        if reply.kind in ("read", "claim", "attend", "decline", *TO_SOMEONE):
            done = t(f"flow.reply.done_{reply.kind}", title=row["title"], name=found[1] if found else "")
        else:
            done = t("flow.reply.done", op=t("flow.op." + reply.kind), title=row["title"])
        await self.hub.say(incoming.channel_id, done, client_msg_id=answer_id)

    async def _on_done(self, user: int, reply: Any) -> str:
        """拿回 (the latest instance one handed on that can still be taken back) and 减签
        @someone (a signer one added): acting on what one did, not on a pending task."""
        db = self.app[DATABASE]
        if reply.kind == "take_back":
            for instance_id, title in await db.read(service.handed_on, user):
                try:
                    await db.write(service.act, user, instance_id, engine.Operation("take_back", None, reply.opinion))
                except HubError:
                    continue  # the next holder has acted on this one: the one before, maybe
                return t("flow.reply.done_take_back", title=title)
            return t("flow.reply.no_take_back")
        found = await db.read(_user_named, reply.to or "")
        if found is None:
            return t("flow.reply.no_user", name=reply.to)
        target = await db.read(service.added_signer, user, found[0])
        if target is None:
            return t("flow.reply.no_signer", name=found[1])
        instance_id, task_id, title = target
        try:
            await db.write(service.act, user, instance_id, engine.Operation("remove_sign", task_id, reply.opinion))
        except HubError as exc:
            return t(exc.key, **exc.params)
        return t("flow.reply.done_remove_sign", name=found[1], title=title)

    # ---- effects: cards to new assignees, cards brought up to date ----------------------

    async def notify(self, effect: Effect) -> None:
        instance_id, task_id = int(effect.payload["instance_id"]), int(effect.payload["task_id"])

        def card_of(conn: sa.Connection) -> tuple[int, Card] | None:
            defn, inst, title = service.instance_tx(conn, instance_id)
            task = next((x for x in inst.tasks if x.id == task_id), None)
            return None if task is None else (task.user, render_task(conn, defn, inst, title, task))

        found = await self.app[DATABASE].read(card_of)
        if found is None:
            return
        user, card = found
        message = await self.hub.dm_card(user, card, client_msg_id=f"flow-{instance_id}-{task_id}")  # once, whatever the retries
        await self.app[DATABASE].write(
            lambda conn: conn.execute(
                flow_tasks.update().where(flow_tasks.c.instance_id == instance_id, flow_tasks.c.task_id == task_id).values(message_id=message["id"])
            ),
        )

    async def urge(self, effect: Effect) -> None:
        p = effect.payload
        instance_id, task_id, seq = int(p["instance_id"]), int(p["task_id"]), int(p["seq"])

        def card_of(conn: sa.Connection) -> tuple[int, Card] | None:
            defn, inst, title = service.instance_tx(conn, instance_id)
            task = next((x for x in inst.tasks if x.id == task_id), None)
            if task is None or task.status != "open" or inst.status != "running" or seq > len(inst.trail):
                return None  # acted on meanwhile: nothing to urge
            return task.user, urge_card(defn, inst, title, task, inst.trail[seq - 1], service.names_of(conn, inst))

        found = await self.app[DATABASE].read(card_of)
        if found is not None:
            await self.hub.dm_card(found[0], found[1], client_msg_id=f"flow-urge-{instance_id}-{task_id}-{seq}")

    async def timeout(self, effect: Effect) -> Any:
        p = effect.payload
        return lambda conn: service.timeout_tx(conn, int(p["instance_id"]), int(p["task_id"]), int(p["timeouts"]))

    async def hook(self, effect: Effect) -> None:
        """An automatic step another feature runs (dispatch: the exchange). A refusal (a
        form without its document, a recipient unknown) is told to the person whose step
        led there; anything else is retried as effects are."""
        p = effect.payload

        def view_of(conn: sa.Connection) -> tuple[dict[str, Any], Principal | None, Node]:
            defn, inst, title = service.instance_tx(conn, int(p["instance_id"]))
            last = next((st.user for st in reversed(inst.trail) if st.user != engine.SYSTEM), inst.initiator)
            return service.view(defn, inst, title), principal_of(conn, last), defn.nodes[str(p["node"])]

        view, who, step = await self.app[DATABASE].read(view_of)
        run = self.app[FLOW_HOOKS].get(str(p["action"]))
        try:
            if run is None:
                raise Unavailable("error.flow_step_unavailable", step=t("flow.op." + str(p["action"])))
            if who is not None:
                await run(view, who, step)
        except HubError as exc:
            log.warning("automatic step %s of instance %s refused: %s", p["action"], p["instance_id"], exc.key)
            if who is not None:
                text = t("flow.hook_failed", step=t("flow.op." + str(p["action"])), title=view["title"], reason=t(exc.key, **exc.params))
                await self.hub.dm(who.user_id, text, client_msg_id=f"flow-hook-{effect.id}")

    async def _tallies(self, instance_id: int) -> None:
        """Each invitation step's tally, in the organiser's DM: posted once (its client id
        names the step), then updated in place while answers come."""

        def steps(conn: sa.Connection) -> tuple[int, list[tuple[str, int]]]:
            _, inst, _ = service.instance_tx(conn, instance_id)
            return inst.initiator, sorted({(x.node, x.round) for x in inst.tasks if x.kind == "rsvp"})

        organiser, invitations = await self.app[DATABASE].read(steps)
        for node_id, round_ in invitations:
            client_id = f"flow-tally-{instance_id}-{node_id}-{round_}"

            def render(conn: sa.Connection, node_id: str = node_id, round_: int = round_) -> dict[str, Any]:
                defn, inst, title = service.instance_tx(conn, instance_id)
                fresh = tally_card(defn, inst, title, node_id, round_, service.names_of(conn, inst))
                return fresh.model_copy(update={"handler": self.hub.card_handler}).stored()

            async def post(card: Card, client_id: str = client_id) -> dict[str, Any]:
                return await self.hub.dm_card(organiser, card, client_msg_id=client_id)

            await self._keep(client_id, post, render)

    async def _state(self, instance_id: int, channel_id: int) -> None:
        """The instance's progress card in the channel that follows it (`_following`),
        posted once (its client id names the instance), then kept up to date."""

        client_id = f"flow-state-{instance_id}"

        def render(conn: sa.Connection) -> dict[str, Any]:
            defn, inst, title = service.instance_tx(conn, instance_id)
            card = state_card(defn, inst, title, service.names_of(conn, inst))
            return card.model_copy(update={"handler": self.hub.card_handler}).stored()

        async def post(card: Card) -> dict[str, Any]:
            try:
                return await self.hub.post_card(channel_id, card, client_msg_id=client_id)
            except (NotFound, Forbidden):  # not a member yet, or removed since, or only a reader: the bot joins, once
                await self.hub.join(channel_id)
                return await self.hub.post_card(channel_id, card, client_msg_id=client_id)

        try:
            await self._keep(client_id, post, render)
        except (NotFound, Forbidden):  # gone, or one a bot cannot join (a unit's own): the cards in DMs carry on
            log.warning("no progress card for instance %s: channel %s cannot be joined", instance_id, channel_id)

    async def _keep(self, client_id: str, post: Callable[[Card], Awaitable[dict[str, Any]]], render: Any) -> None:
        """A card the bot keeps up to date (a tally, a progress card): posted the first
        time — its client id names what it follows — and from then on rewritten in place,
        without sending it again (a repeated send is refused by the database and answered
        with the original: a failed write per step)."""
        me = (await self.hub.identity()).user_id
        message_id = await self.app[DATABASE].read(_posted, me, client_id)
        if message_id is None:
            message_id = int((await post(Card.model_validate(await self.app[DATABASE].read(render))))["id"])
        await self._rewrite(message_id, render)

    async def _rewrite(self, message_id: int, render: Any) -> None:
        """Bring one card up to date in one transaction that first locks its message and
        then renders it from the instance as it is then: two refreshes that overlap write
        in turn, and the one that writes last writes the latest state (never an older one
        over a newer)."""
        async with self.app[DATABASE].begin() as conn:
            current = (await conn.execute(sa.select(messages.c.card).where(messages.c.id == message_id).with_for_update())).scalar()
            stored = await conn.run_sync(render)
            if current != stored:
                await self.app[ROOMS].update_card(conn, message_id, stored)

    async def meeting(self, effect: Effect) -> None:
        """The reminder before a meeting, to those coming and those who have not answered."""
        p = effect.payload
        instance_id, node_id, round_ = int(p["instance_id"]), str(p["node"]), int(p["round"])

        def who(conn: sa.Connection) -> tuple[str, str, list[int]]:
            defn, inst, title = service.instance_tx(conn, instance_id)
            if inst.status in ("withdrawn", "terminated"):
                return title, "", []
            starts = service.meeting_start(inst.form, defn.nodes[node_id].starts_field)
            people = [x.user for x in inst.tasks if x.node == node_id and x.round == round_ and x.kind == "rsvp" and (x.decision == "attend" or x.status == "open")]
            return title, moment(starts) if starts else "", people

        title, when, people = await self.app[DATABASE].read(who)
        for uid in people:
            await self.hub.dm(uid, t("flow.meeting.reminder", title=title, when=when), client_msg_id=f"flow-meet-{instance_id}-{node_id}-{round_}-{uid}")

    async def publish(self, instance: dict[str, Any], who: Principal, step: Node) -> None:
        """信息报送's 发布: the instance's title and its `field` (正文 by default) as a 通知
        card in the channel the step names, posted by the reviewer whose step led here —
        who must be an administrator of that channel (else the refusal is told to them)."""
        channel_id = await self.app[DATABASE].read(_channel_named, step.channel)
        if channel_id is None:
            raise NotFound("error.flow_publish_no_channel", channel=step.channel)
        body = str(instance["form"].get(step.field or "正文", ""))[:10_000]
        notice = NoticePost(title=instance["title"][:200], body=body, client_msg_id=f"flow-publish-{instance['id']}")
        await post_notice(self.app[CARDS], who, channel_id, notice)

    async def refresh_cards(self, effect: Effect) -> None:
        """Bring the instance's cards up to date: the cards of tasks still held (their
        step, the opinions so far) and of those this step closed, and once the instance
        has ended every card (how it ended). A card done earlier stays as it was until
        the end, so a step does not rewrite every card before it."""
        instance_id = int(effect.payload["instance_id"])
        closed = [int(x) for x in effect.payload.get("closed", [])]

        def renderer(conn: sa.Connection) -> Any:
            defn, inst, title = service.instance_tx(conn, instance_id)
            names, unit_names = service.names_of(conn, inst), service.unit_names_of(conn, inst)
            by_id = {x.id: x for x in inst.tasks}

            def card_of(task_id: int) -> dict[str, Any]:
                card = render_task(conn, defn, inst, title, by_id[task_id], names, unit_names)
                return card.model_copy(update={"handler": self.hub.card_handler}).stored()

            return defn, inst, card_of

        def render(conn: sa.Connection, task_id: int) -> dict[str, Any]:
            return renderer(conn)[2](task_id)

        def stale(conn: sa.Connection) -> tuple[list[tuple[int, int]], bool, int | None]:
            """The (message, task) of each card to look at whose card differs now,
            whether the instance has invitations (whose tallies follow too), and the
            channel that follows it (its progress card), if any."""
            defn, inst, card_of = renderer(conn)
            q = (
                sa.select(flow_tasks.c.task_id, flow_tasks.c.message_id, messages.c.card)
                .join(messages, messages.c.id == flow_tasks.c.message_id)
                .where(flow_tasks.c.instance_id == instance_id)
            )
            if inst.status == "running":
                q = q.where(sa.or_(flow_tasks.c.status.in_(("open", "waiting")), flow_tasks.c.task_id.in_(closed)))
            known = {x.id for x in inst.tasks}
            targets = [(int(r.message_id), int(r.task_id)) for r in conn.execute(q) if r.task_id in known and r.card != card_of(int(r.task_id))]
            return targets, any(x.kind == "rsvp" for x in inst.tasks), _following(conn, defn, inst)

        # a transaction per card: each takes its channel's next seq, and a transaction that
        # held two channels' rows could deadlock with another holding them the other way
        targets, invitations, channel_id = await self.app[DATABASE].read(stale)
        for message_id, task_id in targets:
            await self._rewrite(message_id, lambda conn, task_id=task_id: render(conn, task_id))
        if invitations:
            await self._tallies(instance_id)
        if channel_id is not None:
            await self._state(instance_id, channel_id)
        users = [int(u) for u in effect.payload.get("users", [])]
        if users:  # 待办 counts in the web client follow
            for uid, todo in (await self.app[DATABASE].read(service.todo_counts, users)).items():
                await self.app[REALTIME].emit_to_user(uid, "task", {"todo": todo})


def _user_named(conn: sa.Connection, username: str) -> tuple[int, str] | None:
    row = conn.execute(sa.select(users.c.id, users.c.display_name).where(users.c.username == username, users.c.disabled == sa.false())).first()
    return None if row is None else (int(row.id), row.display_name)


def _posted(conn: sa.Connection, sender_id: int, client_msg_id: str) -> int | None:
    """The message one sender posted under that client id, if any."""
    found = conn.execute(sa.select(messages.c.id).where(messages.c.sender_id == sender_id, messages.c.client_msg_id == client_msg_id)).scalar()
    return None if found is None else int(found)


def _following(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance) -> int | None:
    """The channel that follows an instance: the one its form names (`_channel_id`: a
    收文's desk channel, where its document arrived), or the flow's `channel:`."""
    given = inst.form.get("_channel_id")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    return _channel_named(conn, defn.channel) if defn.channel else None


def _channel_named(conn: sa.Connection, name: str) -> int | None:
    row = conn.execute(
        sa.select(channels.c.id).where(channels.c.name == name, channels.c.kind.in_(("public", "private", "unit")), channels.c.archived == sa.false()).order_by(channels.c.id).limit(1)
    ).scalar()
    return None if row is None else int(row)


def principal_of(conn: sa.Connection, user_id: int) -> Principal | None:
    """The person as a Principal, to act in their name (a hook run after their step)."""
    row = conn.execute(sa.select(users.c.id, users.c.username, users.c.display_name, users.c.roles, users.c.is_bot).where(users.c.id == user_id)).first()
    return None if row is None else Principal(int(row.id), row.username, row.display_name, tuple((row.roles or "").split()), 0, is_bot=bool(row.is_bot))

