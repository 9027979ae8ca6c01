"""`antechamber serve` (and `python -m server`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from pathlib import Path

import structlog

from . import ops
from .config import ConfigError, default_node_id, load_settings
from .credentials import CredentialsError, load_credentials
from .logs import configure_logging


def _budget(text: str) -> int:
    """--max-forward-pps: a positive number of packets/s, or "auto" (0)."""
    if text.strip().lower() == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of packets/s or auto, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of packets/s (or auto)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="antechamber", description="Self-hosted video meetings.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", dest="data_dir", help="where the database, keys and recordings live")
    serve.add_argument("--public-url", dest="public_url", help="base URL used in links, e.g. https://meet.example.org")
    serve.add_argument("--api-key", dest="api_keys", action="append", help="an accepted API key (repeatable)")
    serve.add_argument("--redis-url", dest="redis_url", help="share state through Redis, e.g. redis://127.0.0.1:6379/0")
    serve.add_argument("--workers", type=int, help="run N worker processes sharing the port (a cluster on Redis)")
    serve.add_argument("--internal-url", dest="internal_url",
                       help="how other nodes reach this one, e.g. http://10.0.0.5:8080 (default http://<host>:<port>)")
    serve.add_argument("--node-id", dest="node_id", help="this node's id in the cluster (default: host name + random)")
    serve.add_argument("--secret-file", dest="secret_file",
                       help="file with the server secret (and API keys) shared by every node")
    serve.add_argument("--udp-port-range", dest="udp_port_range",
                       help="UDP ports for ICE/media, e.g. 40000-40999 (split among the workers)")
    serve.add_argument("--worker-index", dest="worker_index", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--supervisor-pid", dest="supervisor_pid", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--metrics-port", dest="metrics_port", type=int,
                       help="also serve /metrics on this port without the API key (default: only behind the key)")
    serve.add_argument("--log-format", dest="log_format", choices=["json", "console"])
    serve.add_argument("--log-level", dest="log_level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--config", dest="config_file", help="TOML settings file")
    serve.add_argument("--ice-server", dest="ice_servers", action="append",
                       help="STUN/TURN URL handed to the SFU and browsers (repeatable)")
    serve.add_argument("--public-ip", dest="public_ip", help="IP announced in ICE candidates (1:1 NAT)")
    serve.add_argument("--turn-secret", dest="turn_secret",
                       help="coturn static-auth-secret: browsers get short-lived TURN credentials")
    serve.add_argument("--turn-url", dest="turn_urls", action="append",
                       help="TURN URL for those credentials, e.g. turn:turn.example.org:3478 (repeatable)")
    serve.add_argument("--ice-transport-policy", dest="ice_transport_policy", choices=["all", "relay"],
                       help="relay: browsers send media only through TURN (default all)")
    serve.add_argument("--max-forward-pps", dest="max_forward_pps", type=_budget, metavar="PPS|auto",
                       help="forwarded packets/s past which new joins get server_busy (default auto: "
                            "refuse only when the event loop lags or the process nears a full core)")
    serve.add_argument("--busy-lag-ms", dest="busy_lag_ms", type=int,
                       help="event-loop lag (ms) that a tenth of the last 3 s's probes exceed when new joins get "
                            "server_busy (p90; default 50, 0: off)")
    serve.add_argument("--busy-cpu", dest="busy_cpu", type=float,
                       help="process CPU (fraction of one core, sustained over 10 s) past which new joins get server_busy "
                            "(default 0.9, 0: off)")
    serve.add_argument("--gc-pacing", dest="gc_pacing", action=argparse.BooleanOptionalAction, default=None,
                       help="freeze the settled heap every 5 s so garbage-collector pauses do not stall forwarding; "
                            "a complete collection after many departures (default on)")
    serve.add_argument("--rest-rate-limit", dest="rest_rate_limit_per_minute", type=int,
                       help="REST points per API key per minute (GET 1, DELETE 2, writes 3; default 1000, 0: none)")
    serve.add_argument("--trusted-proxy", dest="trusted_proxies", action="append",
                       help="a reverse proxy (address or network) whose X-Forwarded-For names the client (repeatable)")
    serve.add_argument("--webhook-url", dest="webhook_urls", action="append",
                       help="send room events to this URL (repeatable; each with its --webhook-secret)")
    serve.add_argument("--webhook-secret", dest="webhook_secrets", action="append",
                       help="the secret signing the events of the --webhook-url at the same position")
    serve.add_argument("--webhook-format", dest="webhook_formats", action="append", choices=["whereby", "openvidu"],
                       help="the format of the --webhook-url at the same position (default whereby)")
    serve.add_argument("--webhook-events", dest="webhook_events", action="append",
                       help="the event types for the --webhook-url at the same position, 'a|b' (default: all)")
    serve.add_argument("--embed-origin", dest="embed_origins", action="append",
                       help="let pages of this origin (scheme://host[:port]) frame every room (repeatable)")
    ops.add_commands(sub)   # rooms, recordings, keys, doctor: server/ops
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.command in ops.COMMANDS:
        return ops.run(args)   # before importing the server (aiortc, PyAV): the operator commands start fast
    import uvloop
    from aiohttp import web

    from .app import create_app
    from .store.redis_store import split_prefix
    from .workers import follow_supervisor, supervise

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "worker_index", "supervisor_pid")}
    for name in ("api_keys", "ice_servers", "turn_urls", "webhook_urls", "webhook_secrets", "webhook_formats",
                 "webhook_events", "embed_origins"):
        if flags.get(name):
            flags[name] = tuple(flags[name])
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        print(f"antechamber: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    log = structlog.get_logger("antechamber")
    if settings.workers > 1:
        try:
            return supervise(settings, argv)
        except ConfigError as exc:
            print(f"antechamber: {exc}", file=sys.stderr)
            return 2
    if args.supervisor_pid:
        follow_supervisor(args.supervisor_pid)
    settings = settings.replace(node_id=settings.node_id or default_node_id())
    if settings.metrics_port and args.worker_index is not None:     # worker i: its own metrics port
        settings = settings.replace(metrics_port=settings.metrics_port + args.worker_index)
    redis_url, key_prefix = split_prefix(settings.redis_url) if settings.redis_url else ("", "")
    try:
        creds = load_credentials(settings.data_dir, settings.api_keys, redis_url=redis_url, key_prefix=key_prefix,
                                 secret_file=Path(settings.secret_file).expanduser() if settings.secret_file else None)
    except CredentialsError as exc:
        print(f"antechamber: {exc}", file=sys.stderr)
        return 2
    if creds.generated_api_key:
        # Printed once, on the first start (of the cluster, with Redis); never logged.
        print(
            f"\nGenerated an API key (kept in {creds.kept_in}):\n\n"
            f"    {creds.generated_api_key}\n\n"
            f"Try it:\n    curl -s -X POST -H 'Authorization: Bearer {creds.generated_api_key}' "
            f"-H 'Content-Type: application/json' -d '{{\"roomName\": \"Standup\"}}' {settings.base_url}/api/v1/rooms\n",
            file=sys.stdout, flush=True,
        )
    try:
        app = create_app(settings, creds)
    except ConfigError as exc:  # e.g. an ICE server URL the SFU cannot use
        print(f"antechamber: {exc}", file=sys.stderr)
        return 2
    log.info("starting", host=settings.host, port=settings.port, public_url=settings.base_url,
             store="redis" if settings.redis_url else "sqlite", data_dir=str(settings.data_dir),
             node=settings.node_id, udp_ports=settings.udp_port_range or "any")
    uvloop.install()
    app.on_startup.append(_freeze_startup_heap)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None, handle_signals=True,
                shutdown_timeout=5.0, reuse_port=args.worker_index is not None)  # workers share the port
    return 0


async def _freeze_startup_heap(app: web.Application) -> None:
    """Move what start-up made (imported modules, aiortc, PyAV) out of the collector's sight.

    Full collections otherwise walk that whole heap again and again while meetings run: measured
    with bench/knock.py, admit -> joined p99 went from 11.6-11.9 ms to 6.0-8.0 ms with this.
    """
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
