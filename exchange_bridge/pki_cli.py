"""Sub-commands of `changtong` (see exchange_bridge/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS: frozenset[str] = frozenset()


def add_commands(sub: Any) -> None:
    pass


def run(args: argparse.Namespace, config: Any) -> int:
    raise AssertionError(args.command)
