"""How the operator commands reach a running server: its URL, the API key, JSON over HTTP.

The URL: ``--url``, else ``ANTECHAMBER_URL``, else the settings' base URL (``public_url``, or
``host``/``port``; from the same flags, ``ANTECHAMBER_*`` variables and TOML file as ``serve``).
The API key: ``ANTECHAMBER_API_KEY``, else the first configured key (``ANTECHAMBER_API_KEYS``,
the config file), else the key kept in the data directory's credentials.json. The key is sent as
``Authorization: Bearer`` and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPResponse
from typing import Any, Mapping

from ..config import ConfigError, Settings, load_settings
from ..credentials import FILE_NAME

TIMEOUT = 15.0
API = "/api/v1"


class OpsError(Exception):
    """What went wrong, in one line for the operator."""


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the server, e.g. http://127.0.0.1:8080 (default: ANTECHAMBER_URL, "
                                      "else the settings' public URL)")
    parser.add_argument("--data-dir", dest="data_dir", help="the server's data directory (for credentials.json)")
    parser.add_argument("--config", dest="config_file", help="the server's TOML settings file")


def settings_of(args: argparse.Namespace, **flags: Any) -> Settings:
    given = {"data_dir": getattr(args, "data_dir", None), "config_file": getattr(args, "config_file", None), **flags}
    try:
        return load_settings(given)
    except ConfigError as exc:
        raise OpsError(str(exc)) from None


def api_key_of(settings: Settings, env: Mapping[str, str] = os.environ) -> str:
    if env.get("ANTECHAMBER_API_KEY", "").strip():
        return env["ANTECHAMBER_API_KEY"].strip()
    if settings.api_keys:
        return settings.api_keys[0]
    path = settings.data_dir / FILE_NAME
    try:
        keys = json.loads(path.read_text()).get("api_keys") or []
    except FileNotFoundError:
        keys = []
    except (OSError, ValueError, AttributeError) as exc:
        raise OpsError(f"cannot read {path}: {exc}") from None
    if not keys:
        raise OpsError(f"no API key: set ANTECHAMBER_API_KEY, or pass the server's --data-dir ({path} has none)")
    return str(keys[0])


@dataclass
class Client:
    base_url: str
    api_key: str

    @classmethod
    def from_args(cls, args: argparse.Namespace, key_required: bool = True) -> "Client":
        settings = settings_of(args)
        url = getattr(args, "url", None) or os.environ.get("ANTECHAMBER_URL") or settings.base_url
        return cls(url.rstrip("/"), api_key_of(settings) if key_required else "")

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self.base_url + path + ("?" + urllib.parse.urlencode(q) if q else "")

    def open(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             headers: Mapping[str, str] | None = None, auth: bool = True) -> HTTPResponse:
        """The raw response (2xx and 206); OpsError with the server's ``code: message`` otherwise."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path, query), data=data, method=method, headers=dict(headers or {}))
        if auth:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise OpsError(_describe(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OpsError(f"cannot reach the server at {self.base_url}: {reason}") from None

    def call(self, method: str, path: str, **kw: Any) -> Any:
        with self.open(method, API + path, headers={"Accept": "application/json"}, **kw) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def pages(self, path: str, key: str, query: Mapping[str, Any] | None = None, limit: int | None = None):
        """Every item of a paged listing (OpenVidu Meet's ``nextPageToken``), at most ``limit``."""
        token, seen = None, 0
        while True:
            page = self.call("GET", path, query={**(query or {}), "maxItems": 100, "nextPageToken": token})
            for item in page.get(key, []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            token = (page.get("pagination") or {}).get("nextPageToken")
            if not token:
                return


def _describe(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("message"):
        return f"{exc.code} {body.get('code') or body.get('error') or ''}: {body['message']}".replace(" :", ":")
    return f"{exc.code} {exc.reason}"



def when(ms: Any) -> str:
    """A REST date (milliseconds since the epoch) for a table, in UTC."""
    import datetime

    if not isinstance(ms, (int, float)) or ms <= 0:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
