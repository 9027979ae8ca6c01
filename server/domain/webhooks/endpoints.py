"""Webhook endpoints: where events go, in which format, which of them (docs/webhooks.md "Endpoints").

Two sources, both kept: the settings (``--webhook-url``/``--webhook-secret``, paired in order, with
``--webhook-format``/``--webhook-events``) and the list set by ``PUT /api/v1/config/webhooks``, stored in
the store so every node of a cluster reads the same one (re-read at most every ``REFRESH_SECONDS``).
An endpoint's id is derived from its source, format and URL, so a PUT that keeps an endpoint keeps its
id (and its deliveries' sequence). Secrets are kept to sign and never shown: ``public()`` leaves them out.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import urlsplit

from .formats import EXTENSIONS, FORMATS

REFRESH_SECONDS = 2.0
MAX_ENDPOINTS = 20


class EndpointError(ValueError):
    """An endpoint that cannot be used; ``field`` names what is wrong."""

    def __init__(self, message: str, field_name: str = "") -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    format: str = "whereby"
    events: tuple[str, ...] = ()      # empty: every event of the format (no extensions); "*": all
    source: str = "api"               # config (the settings) | api
    secret: str = field(default="", repr=False)

    def wants(self, type_name: str) -> bool:
        if "*" in self.events:
            return True
        if self.events:
            return type_name in self.events
        return type_name not in EXTENSIONS

    def public(self) -> dict[str, Any]:
        return {"id": self.endpoint_id, "url": self.url, "format": self.format, "events": list(self.events),
                "source": self.source, "hasSecret": bool(self.secret)}


def _id(source: str, fmt: str, url: str) -> str:
    return f"{source[:3]}_" + hashlib.sha256(f"{source}\x00{fmt}\x00{url}".encode()).hexdigest()[:16]


def make(url: str, secret: str, fmt: str = "whereby", events: Iterable[str] = (), source: str = "api",
         where: str = "") -> Endpoint:
    """A checked endpoint; EndpointError naming the field otherwise (``where`` prefixes the name)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise EndpointError("url must be an http:// or https:// URL", where + "url")
    if not secret or len(secret) > 512:
        raise EndpointError("secret is required (1 to 512 characters)", where + "secret")
    if fmt not in FORMATS:
        raise EndpointError(f"format must be one of {', '.join(FORMATS)}", where + "format")
    chosen = tuple(dict.fromkeys(e for e in events if e))
    unknown = [e for e in chosen if e != "*" and e not in FORMATS[fmt]]
    if unknown:
        raise EndpointError(f"unknown {fmt} event(s): {', '.join(unknown)}; known: {', '.join(FORMATS[fmt])}",
                            where + "events")
    return Endpoint(_id(source, fmt, url), url, fmt, chosen, source, secret)


def from_settings(urls: tuple[str, ...], secrets: tuple[str, ...], formats: tuple[str, ...] = (),
                  events: tuple[str, ...] = ()) -> list[Endpoint]:
    """The settings' endpoints: the n-th URL with the n-th secret (and format, events: 'a|b' or 'a b')."""
    if len(urls) != len(secrets):
        raise EndpointError("every --webhook-url needs its --webhook-secret (as many of each, in the same order)",
                            "webhook_secrets")
    out = []
    for i, url in enumerate(urls):
        fmt = formats[i] if i < len(formats) else "whereby"
        names = events[i].replace("|", " ").split() if i < len(events) else ()
        out.append(make(url, secrets[i], fmt, names, "config", where=f"webhook {i + 1}: "))
    return out


def to_doc(endpoints: list[Endpoint]) -> dict[str, Any]:
    return {"endpoints": [{"url": e.url, "secret": e.secret, "format": e.format, "events": list(e.events)}
                          for e in endpoints]}


def from_doc(doc: dict[str, Any] | None) -> list[Endpoint]:
    out = []
    for item in (doc or {}).get("endpoints", []):
        try:
            out.append(make(item.get("url", ""), item.get("secret", ""), item.get("format", "whereby"),
                            item.get("events") or ()))
        except EndpointError:
            continue        # stored by an older version with other rules: not used
    return out


class EndpointBook:
    """The endpoints in use: the settings' ones and the store's (re-read every REFRESH_SECONDS)."""

    def __init__(self, store: Any, configured: list[Endpoint], clock=time.monotonic) -> None:
        self.store, self.configured, self._clock = store, list(configured), clock
        self._api: list[Endpoint] = []
        self._read_at: float | None = None

    async def all(self) -> list[Endpoint]:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= REFRESH_SECONDS:
            self._api = from_doc(await self.store.get_webhook_config())
            self._read_at = now
        return [*self.configured, *self._api]

    async def get(self, endpoint_id: str) -> Endpoint | None:
        return next((e for e in await self.all() if e.endpoint_id == endpoint_id), None)

    async def replace(self, endpoints: list[Endpoint]) -> None:
        if len(endpoints) > MAX_ENDPOINTS:
            raise EndpointError(f"at most {MAX_ENDPOINTS} endpoints", "endpoints")
        await self.store.put_webhook_config(to_doc(endpoints))
        self._api, self._read_at = list(endpoints), self._clock()
