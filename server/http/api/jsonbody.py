"""Strict JSON request bodies.

- body larger than Settings.max_body_bytes -> 413
- malformed JSON, duplicate keys, non-object top level -> 400
- an empty body counts as ``{}`` only when the caller allows it
- every string in it, object keys included, at any depth, must be acceptable text
  (``query.check``): else 422 on the native API, 400 on the Whereby one
  (``/v1/...``), naming the field by its dotted path (``config.chat``, ``fields[1]``)
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..appkeys import SETTINGS
from ...domain.errors import BadRequest, PayloadTooLarge
from .query import TextError, check, is_whereby, text_refused


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def parse_object(raw: bytes, *, allow_empty: bool = False, whereby: bool = False) -> dict[str, Any]:
    """Parse raw bytes into a JSON object, raising typed API errors (``whereby``: that surface's 400s)."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8", code="invalid_json") from None
    try:
        value = _decoder.decode(text)
    except _DuplicateKey as exc:
        key = str(exc.args[0])
        try:
            check(key, "body")
        except TextError:
            key = "body"   # never repeat text that is not acceptable
        raise BadRequest(f"duplicate key {key!r} in JSON body", code="invalid_json",
                         details=[{"field": key, "message": "duplicate key"}]) from None
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"malformed JSON: {_short(exc)}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    try:
        check_strings(value)
    except TextError as err:
        raise text_refused(err, whereby) from None
    return value


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]" if parent else f"[{key}]"
    return f"{parent}.{key}" if parent else key


def check_strings(value: Any) -> None:
    """TextError for the first string (value or key, at any depth) that is not acceptable text.

    Iterative: the depth of a body is bounded only by its size."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            check(item, path or "body")
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                try:
                    check(key, path or "body")
                except TextError as err:
                    raise TextError(err.field, f"has a key that {err.message}", err.reason) from None
                children.append((_path(path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(_path(path, i), child) for i, child in enumerate(item)]))


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:200]


async def read_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """Read and parse the request body, enforcing the size limit before reading it all."""
    limit = request.app[SETTINGS].max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return parse_object(raw, allow_empty=allow_empty, whereby=is_whereby(request))
