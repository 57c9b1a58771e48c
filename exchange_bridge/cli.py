"""The exchange bridge's sub-commands of `changtong` (registered by hub/cli.py).

Each part (`doc_cli`: documents; `pki_cli`: certificates and peers) adds its own
sub-commands and runs them; this module only gathers them.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import doc_cli, pki_cli

_PARTS = (doc_cli, pki_cli)
COMMANDS: frozenset[str] = frozenset().union(*(part.COMMANDS for part in _PARTS))


def add_commands(sub: Any) -> None:
    """Add this package's sub-commands to the `changtong` parser."""
    for part in _PARTS:
        part.add_commands(sub)


def run(args: argparse.Namespace, config: Any) -> int:
    for part in _PARTS:
        if args.command in part.COMMANDS:
            return part.run(args, config)
    raise AssertionError(f"not an exchange command: {args.command}")
