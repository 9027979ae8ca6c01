"""Every HTTP surface of the app except the websocket: probes, both REST APIs, their OpenAPI
document, and the browser client's pages (``setup_room_route`` adds the room catch-all: call it last)."""

from __future__ import annotations

from aiohttp import web

from . import embed_pages, health, internal, pages, room_state, share_links
from .api import (
    appearance, cluster, embed_origins, insights_theme_openapi, insights_whereby, meeting_timing, members,
    native_rooms, openapi,
    recordings_composition, recordings_native,
    recordings_openapi, recordings_whereby, theme_whereby, webhooks, webhooks_openapi, whereby,
)


def setup_room_route(app: web.Application) -> None:
    """The room page's look-ups (``POST /{roomName}/state``, ``/links``) and the ``/{roomName}`` catch-all: call it last."""
    room_state.setup(app)
    share_links.setup(app)
    pages.setup_room_route(app)


def setup(app: web.Application) -> None:
    health.setup(app)
    native_rooms.setup(app)
    members.setup(app)
    whereby.setup(app)
    meeting_timing.setup(app)
    embed_origins.setup(app)
    appearance.setup(app)
    recordings_native.setup(app)
    recordings_composition.setup(app)
    recordings_whereby.setup(app)
    insights_whereby.setup(app)
    theme_whereby.setup(app)
    insights_theme_openapi.setup(app)
    recordings_openapi.setup(app)
    cluster.setup(app)
    webhooks.setup(app)
    webhooks_openapi.setup(app)
    internal.setup(app)
    openapi.setup(app)
    pages.setup(app)
    embed_pages.setup(app)
