"""Query-string parameters of the native REST handlers: validated, with 422 errors naming the field."""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from ..errors import BadRequest, Unprocessable


def invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"invalid request: {field}", code="validation_error",
                         details=[{"field": field, "message": message}])


def bad_page_token() -> BadRequest:
    """`nextPageToken` was not issued for this query (the store raised InvalidToken)."""
    return BadRequest("nextPageToken is not valid for this query", code="invalid_page_token",
                      details=[{"field": "nextPageToken", "message": "not a token for this query"}])


def choice(request: web.Request, name: str, allowed: tuple[str, ...], default: Optional[str]) -> Optional[str]:
    """One of `allowed`, or `default` when the parameter is absent or empty."""
    value = request.query.get(name)
    if value in (None, ""):
        return default
    if value not in allowed:
        raise invalid(name, f"must be one of: {', '.join(allowed)}")
    return value


def max_items(request: web.Request, default: int, maximum: int) -> int:
    """The page size `maxItems`: an integer from 1 to `maximum`, `default` when absent or empty."""
    raw = request.query.get("maxItems")
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid("maxItems", f"must be an integer from 1 to {maximum}")
    return int(raw)


def id_list(request: web.Request, name: str, noun: str, limit: int) -> list[str]:
    """A comma-separated list of 1 to `limit` ids (blanks dropped, duplicates folded, order kept)."""
    raw = request.query.get(name, "")
    ids = list(dict.fromkeys(r.strip() for r in raw.split(",") if r.strip()))
    if not ids:
        raise invalid(name, f"give one or more comma-separated {noun} ids")
    if len(ids) > limit:
        raise invalid(name, f"at most {limit} {noun}s per request")
    return ids
