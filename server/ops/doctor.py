"""``antechamber doctor``: what is wrong with this node, in one list (docs/cli.md "doctor").

Machine-side checks (server/ops/checks.py) read the same settings as ``serve`` (flags,
``ANTECHAMBER_*``, the TOML file); then the running server is asked over HTTP: ``/healthz``,
``/readyz`` (which probe fails) and one API call with the key (is it accepted). Exit 0 when nothing
failed, 1 otherwise (warnings alone do not fail).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Callable

from . import checks
from .checks import FAIL, OK, WARN, Finding
from .rest import Client, OpsError, settings_of

MARKS = {OK: "[green]ok  [/]", WARN: "[yellow]warn[/]", FAIL: "[bold red]FAIL[/]"}


def add_parser(sub: argparse._SubParsersAction, connection: Callable[[argparse.ArgumentParser], None]) -> None:
    doc = sub.add_parser("doctor", help="check the data directory, store, Redis, UDP ports, ICE servers and the server")
    connection(doc)
    doc.add_argument("--redis-url", dest="redis_url", help="check this Redis instead of the settings'")
    doc.add_argument("--udp-port-range", dest="udp_port_range", help="check this UDP range instead of the settings'")
    doc.add_argument("--ice-server", dest="ice_servers", action="append", help="check this STUN/TURN URL (repeatable)")
    doc.add_argument("--no-server", dest="no_server", action="store_true", help="skip the running server's checks")
    doc.add_argument("--json", action="store_true", help="print the findings as JSON")
    doc.set_defaults(run=doctor)


def doctor(args: argparse.Namespace) -> int:
    overrides = {"redis_url": args.redis_url, "udp_port_range": args.udp_port_range,
                 "ice_servers": tuple(args.ice_servers) if args.ice_servers else None}
    try:
        settings = settings_of(args, **overrides)
    except OpsError as exc:
        findings = [Finding(FAIL, "settings", str(exc))]
    else:
        findings = [Finding(OK, "settings", f"config file {settings.config_file}" if settings.config_file
                            else "flags and ANTECHAMBER_* variables")]
        for check in (checks.data_directory, checks.store, checks.redis_check, checks.udp_ports, checks.ice_servers):
            findings += check(settings)
        if not args.no_server:
            findings += server(args)
    show(findings, args.json)
    return 1 if any(f.status == FAIL for f in findings) else 0


def server(args: argparse.Namespace) -> list[Finding]:
    try:
        client, no_key = Client.from_args(args), None
    except OpsError as exc:
        client, no_key = Client.from_args(args, key_required=False), Finding(FAIL, "api key", str(exc))
    try:
        with client.open("GET", "/healthz", auth=False) as resp:
            node = json.loads(resp.read()).get("node") or "?"
    except OpsError as exc:
        return [Finding(FAIL, "server", str(exc))]
    out = [Finding(OK, "server", f"{client.base_url} is up (node {node})")]
    try:
        with urllib.request.urlopen(client.url("/readyz"), timeout=5.0):
            out.append(Finding(OK, "readiness", "ready"))
    except urllib.error.HTTPError as exc:
        failing = sorted(k for k, v in json.loads(exc.read() or b"{}").items() if v == "unreachable")
        out.append(Finding(FAIL, "readiness", f"not ready: {', '.join(failing) or exc.code} failing"))
    except OSError as exc:
        out.append(Finding(FAIL, "readiness", f"/readyz: {exc}"))
    if no_key is not None:
        return out + [no_key]
    try:
        client.call("GET", "/rooms", query={"maxItems": 1})
        out.append(Finding(OK, "api key", "accepted"))
    except OpsError as exc:
        out.append(Finding(FAIL, "api key", str(exc)))
    return out


def show(findings: list[Finding], as_json: bool) -> None:
    if as_json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(soft_wrap=True, highlight=False)
    for f in findings:
        console.print(f"{MARKS[f.status]} {f.check:<15} {escape(f.detail)}")
    failed = sum(f.status == FAIL for f in findings)
    console.print(f"{failed} problem(s) found" if failed else "no problems found")
