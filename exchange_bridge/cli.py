"""The exchange bridge's sub-commands of `changtong` (registered by hub/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS: frozenset[str] = frozenset()


def add_commands(sub: Any) -> None:
    """Add this package's sub-commands to the `changtong` parser."""


def run(args: argparse.Namespace, config: Any) -> int:
    raise AssertionError(f"not an exchange command: {args.command}")
