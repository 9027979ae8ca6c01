"""Query-string parameters of the native REST handlers: validated, with 422 errors naming the field.

Also the REST edge's text check: ``check`` applies the one text rule of both edges
(signaling/wire/text.py ``check_text``: what the REST API accepts, the websocket
accepts), and ``check_url`` (called by the error middleware for every API request
before any handler) applies it to every path segment and every query parameter name
and value, once percent-decoded as UTF-8, and to the credential headers the API
reads. A refusal names the field (the path parameter, query parameter or header)
and never repeats the value: 422 on the native API, 400 on the Whereby one.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import unquote_to_bytes

import regex
from aiohttp import web

from signaling.wire.text import TextError, check_text

from ...domain.errors import ApiError, BadRequest, Unprocessable


def invalid(field: str, message: str) -> Unprocessable:
    """A field the native API refuses: 422 naming it."""
    return Unprocessable(f"invalid request: {field}", code="validation_error",
                         details=[{"field": field, "message": message}])


def bad(field: str, message: str) -> BadRequest:
    """A field the Whereby-compatible API refuses: 400 naming it (Whereby's behaviour)."""
    return BadRequest(f"invalid request: {field}: {message}", code="validation_error",
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


NAME_MODES = ("exact", "prefix", "partial", "regex")


def room_name_filter(request: web.Request, max_len: int = 50) -> tuple[Optional[str], str, bool]:
    """OpenVidu Meet's ``roomName`` filter of the room and recording listings: (value or None,
    ``roomNameMatchMode`` exact | prefix | partial | regex (default exact), ``roomNameCaseInsensitive``
    true | false in any case (default false)). A regex that does not compile is a 422 on roomName."""
    value = request.query.get("roomName") or None
    mode = choice(request, "roomNameMatchMode", NAME_MODES, "exact") or "exact"
    fold_raw = (request.query.get("roomNameCaseInsensitive") or "false").lower()
    if fold_raw not in ("true", "false"):
        raise invalid("roomNameCaseInsensitive", "must be true or false")
    if value is not None and len(value) > max_len:
        raise invalid("roomName", f"must be at most {max_len} characters")
    if value is not None and mode == "regex":
        try:
            regex.compile(value)
        except regex.error as exc:
            raise invalid("roomName", f"not a valid regular expression: {exc}") from None
    return value, mode, fold_raw == "true"


def pattern_too_slow(field: str = "roomName") -> Unprocessable:
    return invalid(field, "the regular expression takes too long to match; simplify it")


def decimal(raw: Optional[str], max_digits: int = 12) -> Optional[int]:
    """``raw`` as a non-negative integer if it is 1 to ``max_digits`` ASCII digits, else None
    (``str.isdigit`` also takes "²" or "١", which ``int`` refuses or reads in another script)."""
    if raw is None or not (0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def int_param(request: web.Request, name: str, default: int, maximum: int, *, whereby: bool = False,
              unit: str = "") -> int:
    """Query parameter `name`: an integer from 1 to `maximum`, `default` when absent or empty
    (refused: 422 on the native API, 400 with ``whereby``)."""
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    value = decimal(raw)
    if value is None or not 1 <= value <= maximum:
        raise (bad if whereby else invalid)(name, f"must be an integer from 1 to {maximum}{unit}")
    return value


def max_items(request: web.Request, default: int, maximum: int) -> int:
    """The page size `maxItems`: an integer from 1 to `maximum`, `default` when absent or empty."""
    return int_param(request, "maxItems", default, maximum)


def id_list(request: web.Request, name: str, noun: str, limit: int) -> list[str]:
    """A comma-separated list of 1 to `limit` ids (blanks dropped, duplicates folded, order kept)."""
    raw = request.query.get(name, "")
    ids = list(dict.fromkeys(r.strip() for r in raw.split(",") if r.strip()))
    if not ids:
        raise invalid(name, f"give one or more comma-separated {noun} ids")
    if len(ids) > limit:
        raise invalid(name, f"at most {limit} {noun}s per request")
    return ids


# --- text at the edge --------------------------------------------------------------------

CHECKED_HEADERS = ("X-API-KEY", "Authorization", "X-Room-Key")   # the request headers the API reads


def check(value: str, field: str) -> str:
    """``value`` unchanged if it is acceptable text, else ``TextError`` naming ``field`` (reason:
    surrogate | control | bidi | noncharacter). The message leaves the field out: REST errors name it."""
    try:
        return check_text(value, field)
    except TextError as err:
        raise TextError(field, err.message.removeprefix(f"{field} "), err.reason) from None


def is_whereby(request: web.Request) -> bool:
    return request.path.startswith("/v1/")


def text_refused(err: TextError, whereby: bool) -> ApiError:
    """The API error for refused text: 400 on the Whereby surface, 422 on the native one."""
    error = BadRequest if whereby else Unprocessable
    return error(f"invalid request: {err.field}: {err.message}", code="validation_error",
                 details=[{"field": err.field, "message": err.message}])


def _decoded(raw: str, field: str, *, plus: bool = False) -> str:
    """Percent-decode ``raw`` strictly as UTF-8, then check the text."""
    try:
        text = unquote_to_bytes(raw.replace("+", " ") if plus else raw).decode("utf-8")
    except UnicodeDecodeError:
        raise TextError(field, "is not valid UTF-8 once percent-decoded", "encoding") from None
    return check(text, field)


def _param(segment: str) -> Optional[str]:
    """The name of a route parameter segment ("{roomId}", "{path:.+}"), else None."""
    if segment.startswith("{") and segment.endswith("}"):
        return segment[1:-1].split(":", 1)[0]
    return None


def _path_field(request: web.Request, segments: list[str], index: int) -> str:
    """The route parameter that path segment ``index`` fills ("roomId"), else "path". Also for a
    method the route does not serve (405): any route whose fixed segments fit the path names it."""
    matched = request.match_info.route.resource
    candidates = [matched] if matched is not None else list(request.app.router.resources())
    for resource in candidates:
        canonical = resource.canonical.split("/")
        # a parameter at `index` only: a fixed segment there ("/recordings/bulk-delete") is no name
        # for a value that did not match any route (aiohttp's parameters refuse "{" and "}")
        if len(canonical) == len(segments) and (name := _param(canonical[index])) is not None and all(
                i == index or _param(c) is not None or c == seg
                for i, (c, seg) in enumerate(zip(canonical, segments))):
            return name
    return "path"


def check_query(request: web.Request) -> None:
    """Raise TextError for the first query parameter (name or value) that is not acceptable text."""
    for part in request.rel_url.raw_query_string.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        try:
            name = _decoded(raw_name, "query", plus=True)
        except TextError as err:
            raise TextError("query", f"a parameter name {err.message}", err.reason) from None
        _decoded(raw_value, name or "query", plus=True)


def check_url(request: web.Request) -> None:
    """Raise TextError for the first path segment, query parameter or credential header that is
    not acceptable text."""
    segments = request.rel_url.raw_path.split("/")
    for index, segment in enumerate(segments):
        if segment:
            try:
                _decoded(segment, "path")
            except TextError as err:
                raise TextError(_path_field(request, segments, index), err.message, err.reason) from None
    check_query(request)
    for header in CHECKED_HEADERS:
        value = request.headers.get(header)
        if value is None:
            continue
        try:
            check(value, header)
        except TextError as err:
            if err.reason == "surrogate":   # header bytes that are not UTF-8 arrive surrogate-escaped
                raise TextError(header, "is not valid UTF-8", "encoding") from None
            raise


def projection(request: web.Request, base: tuple[str, ...], extra: tuple[str, ...] = ()) -> Optional[frozenset[str]]:
    """OpenVidu Meet's response projection: the top-level names to keep, or None for the whole object.

    ``fields`` (query) and ``X-Fields`` (header) are united, as are ``extraFields`` / ``X-ExtraFields``;
    unknown names are ignored, an extra field named in ``fields`` too (3.8 only takes those from
    ``extraFields``). Without any valid ``fields`` the whole object is kept (None); otherwise
    fields ∪ extraFields. Names are top-level keys only (no nested paths); nothing, roomId included,
    is kept unless named.
    """
    def names(query: str, header: str, allowed) -> set[str]:
        raw = f"{request.query.get(query, '')},{request.headers.get(header, '')}"
        return {n.strip() for n in raw.split(",")} & set(allowed)

    chosen = names("fields", "X-Fields", [f for f in base if f not in extra])
    if not chosen:
        return None
    return frozenset(chosen | names("extraFields", "X-ExtraFields", extra))


def project(body: dict, keep: Optional[frozenset[str]]) -> dict:
    """``body`` narrowed to ``keep`` (see ``projection``); the whole body when ``keep`` is None."""
    return body if keep is None else {k: v for k, v in body.items() if k in keep}
