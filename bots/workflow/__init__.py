"""The workflow engine, pure: flow definitions (YAML, validated) and the transitions of
an instance, `apply(definition, instance, operation, actor, now) -> (instance, effects)`.
No I/O here: storage, the bot that brings tasks to people and the timers build on it."""
