"""Origins allowed to frame a room page (docs/embed.md "Allowed origins"; docs/architecture.md
"Embedding"). Pure text rules, below every layer: the settings (server/config.py) and the APIs
(server/http/api/embed_schema.py) both check origins with them.

Embedding is off until origins are allowed: the server's ``embed_origins`` setting
(``--embed-origin``, repeatable) for every room, and a room's own ``embedOrigins`` list (both APIs,
stored as ``Room.embed_origins``). The room page's ``Content-Security-Policy: frame-ancestors``
lists exactly the union of both, plus ``'self'`` (server/http/pages.py).

An origin is ``scheme://host[:port]``: http or https, a host name or an IP address, no path, query,
fragment, user or wildcard. It is stored lower-cased, without a default port.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterable
from urllib.parse import urlsplit

MAX_ORIGINS = 20          # per room
MAX_ORIGIN_LENGTH = 255
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(ValueError):
    """Text that is not an origin; the message says why (for a ``{code, message}`` answer)."""


def _host_ok(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        pass
    return all(_LABEL.match(label) for label in host.split("."))


def parse_origin(text: object) -> str:
    """The normalised origin ``scheme://host[:port]`` of ``text``; OriginError if it is not one."""
    if not isinstance(text, str) or not text:
        raise OriginError("must be an origin such as https://app.example.com")
    if len(text) > MAX_ORIGIN_LENGTH or text != text.strip() or any(ord(c) < 0x21 or ord(c) > 0x7e for c in text):
        raise OriginError(f"{text[:80]!r} is not an origin (printable ASCII, at most {MAX_ORIGIN_LENGTH} characters)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise OriginError(f"{text!r} is not an origin: bad host or port") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise OriginError(f"{text!r} is not an origin: the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise OriginError(f"{text!r} is not an origin: no user or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise OriginError(f"{text!r} is not an origin: no path, query or fragment (scheme://host[:port])")
    netloc = parts.netloc.lower()
    host = netloc.rsplit(":", 1)[0] if port is not None or netloc.endswith(":") else netloc
    if not host or not _host_ok(host):
        raise OriginError(f"{text!r} is not an origin: {host!r} is not a host name or an IP address")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    if port == 0:
        raise OriginError(f"{text!r} is not an origin: port 0")
    return f"{scheme}://{host}:{port}"


def parse_origins(values: Iterable[object], limit: int = MAX_ORIGINS) -> list[str]:
    """Normalised, without duplicates, in the given order; OriginError names the first bad one."""
    out: list[str] = []
    for value in values:
        origin = parse_origin(value)
        if origin not in out:
            out.append(origin)
    if len(out) > limit:
        raise OriginError(f"at most {limit} origins")
    return out


def frame_ancestors(server_origins: Iterable[str], room_origins: Iterable[str]) -> str:
    """The CSP ``frame-ancestors`` source list: ``'self'`` and every allowed origin."""
    seen: list[str] = []
    for origin in (*server_origins, *room_origins):
        if origin not in seen:
            seen.append(origin)
    return " ".join(["'self'", *seen])
