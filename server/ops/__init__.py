"""Operator commands of the ``antechamber`` CLI besides ``serve`` (docs/cli.md).

``rooms``, ``recordings`` and ``keys`` talk to a running server over its REST API only
(server/ops/rest.py finds the URL and the API key); ``doctor`` also looks at the machine it runs
on (the data directory, the store, Redis, the UDP ports and the ICE servers of the settings).
"""

from __future__ import annotations

import argparse

from . import doctor, download, rooms
from .rest import OpsError, add_connection_flags

COMMANDS = ("rooms", "recordings", "keys", "doctor")


def add_commands(sub: argparse._SubParsersAction) -> None:
    for module in (rooms, download, doctor):
        module.add_parser(sub, add_connection_flags)


def run(args: argparse.Namespace) -> int:
    """Run an operator command; errors print one line on stderr (never a traceback), exit 1."""
    import sys

    try:
        return args.run(args)
    except OpsError as exc:
        print(f"antechamber: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("antechamber: interrupted", file=sys.stderr)
        return 130
