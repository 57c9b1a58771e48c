"""An engine Instance as JSON for its row, and back."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .engine import Instance, Step, Task


def dump(inst: Instance) -> dict[str, Any]:
    return asdict(inst)


def load(data: dict[str, Any]) -> Instance:
    return Instance(
        **{
            **data,
            "tasks": tuple(Task(**t) for t in data["tasks"]),
            "trail": tuple(Step(**s) for s in data["trail"]),
            "passed": tuple(data["passed"]),
        }
    )
