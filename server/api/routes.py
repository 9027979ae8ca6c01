"""Mounts every HTTP surface on the application."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
