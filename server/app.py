"""Application wiring: settings, credentials, store, routes, background tasks."""

from __future__ import annotations

import structlog
from aiohttp import web

from .http import health
from .http import middleware
from .http.appkeys import CREDENTIALS, SETTINGS, STORE
from .config import Settings
from .credentials import Credentials
from .domain.live_meetings import LIVE, NoLiveMeetings
from .store import open_store

log = structlog.get_logger("antechamber")


async def _store_ctx(app: web.Application):
    store = await open_store(app[SETTINGS])
    app[STORE] = store
    yield
    await store.close()


def create_app(settings: Settings, credentials: Credentials) -> web.Application:
    app = web.Application(
        middlewares=[middleware.errors_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CREDENTIALS] = credentials
    app[LIVE] = NoLiveMeetings()
    app.cleanup_ctx.append(_store_ctx)
    from .live import directory as signaling_wiring

    signaling_wiring.setup(app)  # the live hub: app[LIVE], /ws; after the store's ctx
    from .domain.rooms.sweeper import sweeper_ctx

    app.cleanup_ctx.append(sweeper_ctx)  # after the store's: it needs an open store
    health.setup(app)
    from .http import routes

    routes.setup(app)
    from .http import pages as web_routes

    web_routes.setup(app)
    # Keep this the last route added: the /{roomName} catch-all for room pages.
    web_routes.setup_room_route(app)
    return app
