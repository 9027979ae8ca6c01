"""Typed keys for the aiohttp application state (no module-level singletons)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ..config import Settings
from ..credentials import Credentials

if TYPE_CHECKING:
    from ..store.base import Store

SETTINGS = web.AppKey("settings", Settings)
CREDENTIALS = web.AppKey("credentials", Credentials)
STORE = web.AppKey("store", object)  # a server.store.base.Store
