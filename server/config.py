"""Settings: one frozen object built from flags, then ANTECHAMBER_* env, then a TOML file.

Precedence (highest first): command-line flag, environment variable, TOML file,
built-in default. The result is passed down explicitly; there is no module global.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "ANTECHAMBER_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./antechamber-data")
    public_url: str = ""  # default derived from host/port
    api_keys: tuple[str, ...] = ()
    redis_url: str = ""
    # cluster (docs/architecture.md "Cluster identity"): this process's node id (default: host name
    # and a random suffix), the shared secret file, worker processes on this machine
    node_id: str = ""
    internal_url: str = ""  # how other nodes reach this one (recording downloads), default http://<host>:<port>
    secret_file: str = ""  # server_secret (and API keys) shared by every node; format in credentials.py
    workers: int = 1
    log_format: str = "console"  # console | json
    log_level: str = "info"
    # room limits
    normal_max_participants: int = 4
    group_max_participants: int = 200
    max_viewers: int = 1000
    # admission
    knock_cooldown_seconds: float = 30.0
    knocks_per_ip_per_minute: int = 30
    # limits and abuse (docs/protocol.md "Rate limits and cooldowns"; 0: no limit)
    pending_knocks_per_ip: int = 1           # pending knocks one address may have in one room
    min_knock_interval_seconds: float = 1.0  # between two knocks from one address
    knocks_per_room_per_minute: int = 120
    joins_per_ip_per_minute: int = 300
    joins_per_room_per_minute: int = 600
    chat_per_second: int = 5                 # chat messages per participant
    chat_per_minute: int = 60
    ws_unauthenticated_per_ip: int = 20      # websockets of one address that have not joined (or knocked)
    ws_join_deadline_seconds: float = 10.0   # a websocket that sends no join in time is closed
    trusted_proxies: tuple[str, ...] = ()    # proxies (addresses or networks) whose X-Forwarded-For is used
    rest_rate_limit_per_minute: int = 1000   # REST points per API key per minute (Whereby's), 0: none
    # websocket
    ws_max_message_bytes: int = 64 * 1024
    ws_heartbeat_seconds: float = 20.0
    ws_idle_timeout_seconds: float = 60.0
    reconnect_grace_seconds: float = 20.0
    # media
    ice_servers: tuple[str, ...] = ()  # e.g. "stun:stun.example.org:3478", "turn:user:pass@host:3478"
    public_ip: str = ""
    udp_port_range: str = ""  # "40000-40999": ICE host sockets bind there (split among --workers)
    ice_transport_policy: str = "all"  # all | relay (browsers only use TURN relays), sent in joined
    max_forward_pps: int = 0  # forwarded RTP packets/s past which new joins get server_busy; 0: auto (loop lag, CPU)
    busy_lag_ms: int = 50     # event-loop lag p90 (last 3 s) past which new joins get server_busy; 0: off
    busy_cpu: float = 0.9     # process CPU (fraction of one core, over 10 s) past which new joins get server_busy; 0: off
    gc_pacing: bool = True    # freeze the settled heap so full GC pauses stay short (media/heap.py)
    # TURN (coturn use-auth-secret): short-lived credentials per participant, docs/deploy.md "TURN"
    turn_secret: str = field(default="", repr=False)  # never printed with the settings
    turn_urls: tuple[str, ...] = ()  # e.g. "turn:turn.example.org:3478?transport=udp"
    turn_ttl_seconds: int = 6 * 3600
    # webhooks (docs/webhooks.md): the n-th URL with the n-th secret (and format, events "a|b")
    webhook_urls: tuple[str, ...] = ()
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)  # never printed with the settings
    webhook_formats: tuple[str, ...] = ()    # whereby (default) | openvidu
    webhook_events: tuple[str, ...] = ()     # per endpoint: event types separated by '|' or spaces
    webhook_max_attempts: int = 5
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_seconds: float = 1.0     # first retry after this (x 0.5..1.5 jitter), doubling
    webhook_backoff_max_seconds: float = 300.0
    webhook_poll_seconds: float = 1.0        # how often the delivery loop looks for due retries
    # embedding (docs/embed.md): origins allowed to frame every room page (plus each room's own list)
    embed_origins: tuple[str, ...] = ()
    # REST
    max_body_bytes: int = 1024 * 1024
    # observability: /metrics without the API key on this port too (0: only behind the key)
    metrics_port: int = 0
    config_file: Path | None = None

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def internal_base_url(self) -> str:
        """The URL other nodes of the cluster reach this node at (never the load balancer's)."""
        if self.internal_url:
            return self.internal_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def udp_ports(self) -> tuple[int, int] | None:
        """udp_port_range as (first, last), or None (ports chosen by the OS)."""
        return parse_port_range(self.udp_port_range) if self.udp_port_range else None

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def parse_port_range(text: str) -> tuple[int, int]:
    """'40000-40999' -> (40000, 40999); ConfigError unless 1024 <= first <= last <= 65535."""
    first, sep, last = text.strip().partition("-")
    try:
        lo, hi = int(first), int(last)
    except ValueError:
        raise ConfigError(f"udp_port_range: {text!r} is not FIRST-LAST, e.g. 40000-40999") from None
    if not sep or not (1024 <= lo <= hi <= 65535):
        raise ConfigError(f"udp_port_range: {text!r} must be FIRST-LAST with 1024 <= FIRST <= LAST <= 65535")
    return lo, hi


_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def default_node_id() -> str:
    """A node id when none is set: the host name and a random suffix, unique per process start."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40].strip("-._") or "node"
    return f"{host}-{secrets.token_hex(3)}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    """Turn a raw value (str from env, anything from TOML) into the field's type."""
    default = _FIELDS[name].default
    try:
        if name == "config_file":
            return Path(value) if value else None
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, Path):
            return Path(value).expanduser()
        if isinstance(default, tuple):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot use {value!r}") from exc


def _validate(s: Settings) -> Settings:
    if s.log_format not in ("console", "json"):
        raise ConfigError("log_format must be 'console' or 'json'")
    if not (0 <= s.port < 65536):
        raise ConfigError("port must be between 0 and 65535")
    if not (0 <= s.metrics_port < 65536):
        raise ConfigError("metrics_port must be between 0 and 65535")
    for key in s.api_keys:
        if len(key) < 16:
            raise ConfigError("an API key must be at least 16 characters long")
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("redis_url must start with redis://, rediss:// or unix://")
    _validate_turn(s)
    _validate_cluster(s)
    _validate_webhooks(s)
    s = _normalise_embed_origins(s)
    for proxy in s.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {proxy!r} is not an address or a network") from None
    return s


def _normalise_embed_origins(s: Settings) -> Settings:
    from .origins import OriginError, parse_origins
    try:
        return dataclasses.replace(s, embed_origins=tuple(parse_origins(s.embed_origins, limit=100)))
    except OriginError as exc:
        raise ConfigError(f"embed_origins: {exc}") from None


def _validate_webhooks(s: Settings) -> None:
    if len(s.webhook_urls) != len(s.webhook_secrets):
        raise ConfigError("every webhook URL needs its webhook secret (as many of each, in the same order)")
    if len(s.webhook_formats) > len(s.webhook_urls) or len(s.webhook_events) > len(s.webhook_urls):
        raise ConfigError("more webhook formats or event lists than webhook URLs")
    if not 1 <= s.webhook_max_attempts <= 20:
        raise ConfigError("webhook_max_attempts must be between 1 and 20")
    if not (0 < s.webhook_timeout_seconds <= 60 and 0 < s.webhook_backoff_seconds <= s.webhook_backoff_max_seconds
            and 0 < s.webhook_poll_seconds <= 60):
        raise ConfigError("webhook timeout, backoff and poll must be positive (timeout and poll at most 60 s, "
                          "backoff at most the maximum backoff)")


def _validate_cluster(s: Settings) -> None:
    if s.udp_port_range:
        parse_port_range(s.udp_port_range)
    if not (1 <= s.workers <= 64):
        raise ConfigError("workers must be between 1 and 64")
    if s.node_id and not _NODE_ID.fullmatch(s.node_id):
        raise ConfigError("node_id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")


def _validate_turn(s: Settings) -> None:
    if s.ice_transport_policy not in ("all", "relay"):
        raise ConfigError("ice_transport_policy must be 'all' or 'relay'")
    if bool(s.turn_secret) != bool(s.turn_urls):
        raise ConfigError("turn_secret and turn_urls go together: set both or neither")
    if s.turn_secret and len(s.turn_secret) < 16:
        raise ConfigError("turn_secret must be at least 16 characters long")
    for url in s.turn_urls:
        scheme, _, rest = url.partition(":")
        if scheme not in ("turn", "turns") or not rest or "@" in rest.split("?", 1)[0]:
            raise ConfigError(f"turn_urls: {url!r} is not a turn: or turns: URL without user and password")
    if s.turn_ttl_seconds < 60:
        raise ConfigError("turn_ttl_seconds must be at least 60")
    if s.ice_transport_policy == "relay" and not s.turn_urls:
        raise ConfigError("ice_transport_policy 'relay' needs a TURN server (turn_secret and turn_urls)")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge flags (None values are 'not given'), env and the TOML file into Settings."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None and v != () and v != []}
    env = os.environ if env is None else env
    from_env = {
        name: env[ENV_PREFIX + name.upper()]
        for name in _FIELDS
        if ENV_PREFIX + name.upper() in env
    }
    config_file = flags.get("config_file") or from_env.get("config_file")
    from_file: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        section = raw.get("antechamber", raw)
        for key, value in section.items():
            name = key.replace("-", "_")
            if name not in _FIELDS:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            from_file[name] = value
    merged: dict[str, Any] = {}
    for source in (from_file, from_env, flags):
        for name, value in source.items():
            merged[name] = _coerce(name, value)
    return _validate(Settings(**merged))
