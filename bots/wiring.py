"""How bots plug into the app: the in-process runtime (app[BOTS]), the integrations'
routes and the `command:run` event. In-process bots register with
`app[BOTS].register(MyBot())` before the app starts."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from hub.effects import EFFECTS

from .integrations import COMMAND_EFFECT, Integrations, register_events, routes
from .reminders.bot import ReminderBot
from .runtime import BotRuntime, setup_runtime
from .workflow import api as workflow_api
from .workflow import events as workflow_events
from .workflow.chat import WorkflowBot
from .workflow.hooks import flow_hooks
from .workflow.service import CARDS_EFFECT, HOOK_EFFECT, MEETING_EFFECT, NOTIFY_EFFECT, TIMEOUT_EFFECT, URGE_EFFECT

__all__ = ["BOTS", "INTEGRATIONS", "setup"]

BOTS: Final = web.AppKey("bots", BotRuntime)
INTEGRATIONS: Final = web.AppKey("bot_integrations", Integrations)


def setup(app: web.Application) -> None:
    runtime = setup_runtime(app)
    app[BOTS] = runtime
    integrations = Integrations(app, runtime)
    app[INTEGRATIONS] = integrations
    app[EFFECTS].register(COMMAND_EFFECT, integrations.command_effect)
    register_events(app, integrations)
    app.add_routes(routes(integrations))
    # the workflow bot (流程助手): tasks as cards in people's DMs, decisions by button or reply
    flows = WorkflowBot(app)
    runtime.register(flows)
    app[EFFECTS].register(NOTIFY_EFFECT, flows.notify)
    app[EFFECTS].register(CARDS_EFFECT, flows.refresh_cards)
    app[EFFECTS].register(URGE_EFFECT, flows.urge)
    app[EFFECTS].register(TIMEOUT_EFFECT, flows.timeout)
    app[EFFECTS].register(HOOK_EFFECT, flows.hook)
    app[EFFECTS].register(MEETING_EFFECT, flows.meeting)
    flow_hooks(app).register("publish", flows.publish)  # automatic steps: publish is ours, dispatch the exchange's
    app.add_routes(workflow_api.routes(_Assistant(flows)))
    workflow_events.register(app)  # the same operations over Socket.IO
    runtime.register(ReminderBot())  # 提醒助手: /remind 明天9点 参加安全生产会议


class _Assistant:
    """The workflow bot's identity for the REST routes (its hub exists once the app starts)."""

    def __init__(self, bot: WorkflowBot) -> None:
        self.bot = bot

    async def identity(self):  # type: ignore[no-untyped-def]
        return await self.bot.hub.identity()
