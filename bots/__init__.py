"""bots: participants that are programs. In-process bots (runtime.py), external bots
with a token, incoming webhooks and slash commands (integrations.py).

The kernel knows it by `bots.feature.FEATURE`; `bots.wiring` puts it into the app."""
