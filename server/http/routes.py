"""Mounts every HTTP surface on the application."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from .api import members, native_rooms, openapi, whereby

    native_rooms.setup(app)
    members.setup(app)
    whereby.setup(app)
    from .api import recordings_native, recordings_whereby

    recordings_native.setup(app)   # also adds the recording service's cleanup_ctx
    recordings_whereby.setup(app)
    openapi.setup(app)
