"""The machine-side checks of ``antechamber doctor``: data directory, store, Redis, UDP ports, ICE servers.

Each check returns ``Finding``s; ``FAIL`` ones make doctor exit non-zero. Nothing here prints a
secret: ICE server URLs are shown as ``scheme host:port`` (their user and password left out), the
Redis URL without its password.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
import struct
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings, parse_port_range
from ..credentials import FILE_NAME

OK, WARN, FAIL = "ok", "warn", "FAIL"
STUN_TIMEOUT = 2.0
LOW_DISK = 1024 ** 3
STORE_FILE = "antechamber.sqlite3"   # server/store/__init__.py new_store


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    detail: str


def data_directory(settings: Settings) -> list[Finding]:
    path = Path(settings.data_dir).expanduser()
    if not path.exists():
        return [Finding(FAIL, "data directory", f"{path} does not exist (the server creates it on its first start)")]
    if not path.is_dir():
        return [Finding(FAIL, "data directory", f"{path} is not a directory")]
    out = []
    if not os.access(path, os.W_OK | os.X_OK):
        out.append(Finding(FAIL, "data directory", f"{path} is not writable by this user"))
    free = shutil.disk_usage(path).free
    out.append(Finding(WARN if free < LOW_DISK else OK, "data directory",
                       f"{path}: {free / 1024 ** 3:.1f} GiB free" + (" (recordings need room)" if free < LOW_DISK else "")))
    rec = path / "recordings"
    if rec.exists() and not os.access(rec, os.W_OK | os.X_OK):
        out.append(Finding(FAIL, "data directory", f"{rec} is not writable: recordings would fail"))
    creds = path / FILE_NAME
    if creds.exists():
        mode = creds.stat().st_mode & 0o777
        if mode & 0o077:
            out.append(Finding(FAIL, "credentials", f"{creds} is readable by others (mode {mode:o}): chmod 600 it"))
        else:
            out.append(Finding(OK, "credentials", f"{creds} (mode {mode:o})"))
    return out


def store(settings: Settings) -> list[Finding]:
    if settings.redis_url:
        return [Finding(OK, "store", "Redis (see the Redis check)")]
    db = Path(settings.data_dir).expanduser() / STORE_FILE
    if not db.exists():
        return [Finding(WARN, "store", f"{db} does not exist yet (created on the server's first start)")]
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        try:
            result = con.execute("PRAGMA quick_check").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return [Finding(FAIL, "store", f"{db}: {exc}")]
    if result != "ok":
        return [Finding(FAIL, "store", f"{db} is damaged: {result}")]
    return [Finding(OK, "store", f"SQLite {db} (integrity ok, schema {version})")]


def redis_check(settings: Settings) -> list[Finding]:
    if not settings.redis_url:
        return [Finding(OK, "redis", "not used (SQLite store, one node)")]
    import redis

    from ..store.redis_url import split_prefix

    url, prefix = split_prefix(settings.redis_url)
    shown = _without_password(url)
    try:
        client = redis.Redis.from_url(url, socket_timeout=3.0, socket_connect_timeout=3.0)
        try:
            started = time.monotonic()
            client.ping()
            rtt = (time.monotonic() - started) * 1000
            version = client.info("server").get("redis_version", "?")
        finally:
            client.close()
    except (redis.RedisError, ValueError, OSError) as exc:
        return [Finding(FAIL, "redis", f"{shown}: {exc}")]
    return [Finding(OK, "redis", f"{shown} answers (Redis {version}, {rtt:.1f} ms, key prefix {prefix!r})")]


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"{parts.username}:***@" if parts.username else ":***@") + host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def udp_ports(settings: Settings) -> list[Finding]:
    if not settings.udp_port_range:
        return [Finding(OK, "udp ports", "any (chosen by the OS); open UDP to this host in the firewall")]
    first, last = parse_port_range(settings.udp_port_range)
    free = busy = 0
    for port in range(first, last + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("0.0.0.0", port))
            free += 1
        except OSError:
            busy += 1
        finally:
            sock.close()
    total = last - first + 1
    detail = f"{first}-{last}: {free} of {total} free, {busy} in use"
    if free == 0:
        return [Finding(FAIL, "udp ports", detail + ": no new session can get a media port")]
    if total < 2 * settings.workers:
        return [Finding(FAIL, "udp ports", detail + f": too few for {settings.workers} workers")]
    return [Finding(WARN if free < total // 10 else OK, "udp ports", detail)]


def ice_servers(settings: Settings) -> list[Finding]:
    urls = list(settings.ice_servers) + list(settings.turn_urls)
    if not urls:
        return [Finding(OK, "ice servers", "none configured (host candidates only: fine on a LAN or a public IP)")]
    return [_probe_ice(url) for url in urls]


def ice_target(url: str) -> tuple[str, str, int, str]:
    """'turn:user:pw@host:3478?transport=tcp' -> ('turn', 'host', 3478, 'tcp'); ValueError if unusable."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns"):
        raise ValueError("not a stun:, stuns:, turn: or turns: URL")
    rest, _, query = rest.partition("?")
    rest = rest.rpartition("@")[2]
    transport = urllib.parse.parse_qs(query).get("transport", ["tcp" if scheme.endswith("s") else "udp"])[0]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = rest.partition(":")
    default = 5349 if scheme.endswith("s") else 3478
    try:
        number = int(port) if port else default
    except ValueError:
        raise ValueError(f"port {port!r} is not a number") from None
    if not host or not (0 < number < 65536) or transport not in ("udp", "tcp"):
        raise ValueError("no host, a bad port or an unknown transport")
    return scheme, host, number, transport


def _probe_ice(url: str) -> Finding:
    try:
        scheme, host, port, transport = ice_target(url)
    except ValueError as exc:
        return Finding(FAIL, "ice server", f"{url.partition(':')[0]}: {exc}")
    shown = f"{scheme} {host}:{port} ({transport})"
    try:
        if transport == "tcp":
            with socket.create_connection((host, port), timeout=STUN_TIMEOUT):
                pass
            return Finding(OK, "ice server", f"{shown}: accepts connections")
        rtt = stun_binding(host, port)
    except OSError as exc:
        return Finding(FAIL, "ice server", f"{shown}: {exc.strerror or exc}")
    if rtt is None:
        return Finding(FAIL, "ice server", f"{shown}: no answer to a STUN binding request in {STUN_TIMEOUT:.0f} s")
    return Finding(OK, "ice server", f"{shown}: answers STUN in {rtt:.1f} ms")


def stun_binding(host: str, port: int, timeout: float = STUN_TIMEOUT) -> float | None:
    """Milliseconds a STUN Binding request to host:port took to be answered (any answer with our
    transaction id, success or error), or None without one within ``timeout``."""
    txid = secrets.token_bytes(12)
    family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family[0], socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        started = time.monotonic()
        sock.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid, family[4])
        deadline = started + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(2048)
            except (socket.timeout, ConnectionRefusedError):
                return None
            if len(data) >= 20 and data[8:20] == txid and data[0] & 0xC0 == 0:
                return (time.monotonic() - started) * 1000
        return None
    finally:
        sock.close()
