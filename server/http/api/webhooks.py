"""Webhooks over REST (docs/webhooks.md), behind the API key like every /api/v1 route:

- ``GET /api/v1/config/webhooks``: the endpoints, without their secrets (``hasSecret`` says one is set);
- ``PUT /api/v1/config/webhooks`` ``{"endpoints": [{url, secret, format, events}]}``: replaces the
  endpoints set through the API (the ones from the settings stay); an entry without ``secret`` keeps the
  secret of the stored endpoint with the same url and format;
- ``POST /api/v1/config/webhooks/test``: a test event to every endpoint, and what each answered;
- ``GET /api/v1/webhooks/deliveries`` (``roomId``, ``type``, ``status``, ``maxItems``, ``nextPageToken``):
  the delivery log, newest first, each delivery with its attempts;
- ``POST /api/v1/webhooks/deliveries/{deliveryId}/replay``: sends that delivery again.

The service is ``app[WEBHOOKS]`` (server/domain/webhooks/service.py, built by server/app.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.webhooks.endpoints import EndpointError, make
from ...domain.webhooks.formats import FORMATS
from ...store.base import InvalidToken
from ...store.outbox_records import STATUSES, Delivery, DeliveryQuery
from ..appkeys import WEBHOOKS
from .auth import add_routes
from .jsonbody import read_object
from .query import bad_page_token, choice, invalid, max_items

PREFIXES = ("/api/v1",)


def render_delivery(d: Delivery) -> dict[str, Any]:
    last = d.attempts[-1] if d.attempts else {}
    return {
        "id": d.delivery_id, "eventId": d.event_id, "endpointId": d.endpoint_id, "roomId": d.room_id,
        "type": d.type, "format": d.format, "sequence": d.seq, "status": d.status, "createdAt": d.created_at,
        "nextAttemptAt": d.next_at if d.status == "pending" else None, "attemptCount": len(d.attempts),
        "responseCode": last.get("responseCode"), "latencyMs": last.get("latencyMs"), "error": last.get("error"),
        "attempts": list(d.attempts), "replayOf": d.replay_of, "body": d.body,
    }


async def get_config(request: web.Request) -> web.Response:
    endpoints = await request.app[WEBHOOKS].endpoints()
    return web.json_response({"endpoints": [e.public() for e in endpoints]})


async def put_config(request: web.Request) -> web.Response:
    body = await read_object(request)
    unknown = sorted(set(body) - {"endpoints"})
    if unknown:
        raise invalid(unknown[0], "unknown field")
    items = body.get("endpoints")
    if not isinstance(items, list):
        raise invalid("endpoints", "must be a list of {url, secret, format, events}")
    service = request.app[WEBHOOKS]
    known = {(e.url, e.format): e.secret for e in await service.endpoints() if e.source == "api"}
    endpoints = []
    for i, item in enumerate(items):
        where = f"endpoints[{i}]."
        if not isinstance(item, dict) or set(item) - {"url", "secret", "format", "events"}:
            raise invalid(f"endpoints[{i}]", "must be an object with url, secret, format, events")
        url, fmt, events = item.get("url"), item.get("format", "whereby"), item.get("events", [])
        # url and format first: a list or an object cannot be looked up among the known endpoints
        hashable = isinstance(url, str) and isinstance(fmt, str)
        secret = item.get("secret", known.get((url, fmt), "") if hashable else "")
        if not all(isinstance(v, str) for v in (url, fmt, secret)) or not isinstance(events, list) \
                or not all(isinstance(e, str) for e in events):
            raise invalid(f"endpoints[{i}]", "url, secret and format are strings, events a list of strings")
        try:
            endpoints.append(make(url, secret, fmt, events, "api", where=where))
        except EndpointError as exc:
            raise invalid(exc.field, str(exc)) from None
    try:
        saved = await service.replace(endpoints)
    except EndpointError as exc:
        raise invalid(exc.field, str(exc)) from None
    return web.json_response({"endpoints": [e.public() for e in saved]})


async def test_config(request: web.Request) -> web.Response:
    results = await request.app[WEBHOOKS].test()
    return web.json_response({"results": results, "ok": bool(results) and all(r["ok"] for r in results)})


async def list_deliveries(request: web.Request) -> web.Response:
    size = max_items(request, 20, 100)
    type_name = request.query.get("type") or None
    if type_name is not None and not any(type_name in names for names in FORMATS.values()):
        raise invalid("type", "not an event type of any format")
    q = DeliveryQuery(room_id=request.query.get("roomId") or None, type=type_name,
                      status=choice(request, "status", STATUSES, None), limit=size,
                      token=request.query.get("nextPageToken") or None)
    try:
        page = await request.app[WEBHOOKS].deliveries(q)
    except InvalidToken:
        raise bad_page_token() from None
    return web.json_response({
        "deliveries": [render_delivery(d) for d in page.items],
        "pagination": {"isTruncated": page.next_token is not None, "nextPageToken": page.next_token,
                       "maxItems": size},
    })


async def replay(request: web.Request) -> web.Response:
    new = await request.app[WEBHOOKS].replay(request.match_info["deliveryId"])
    return web.json_response(render_delivery(new), status=202)


def setup(app: web.Application) -> None:
    add_routes(app, PREFIXES, [
        ("GET", "/config/webhooks", get_config),
        ("PUT", "/config/webhooks", put_config),
        ("POST", "/config/webhooks/test", test_config),
        ("GET", "/webhooks/deliveries", list_deliveries),
        ("POST", "/webhooks/deliveries/{deliveryId}/replay", replay),
    ])
