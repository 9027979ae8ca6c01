"""Store factory: SQLite in the data directory by default, Redis with --redis-url."""

from __future__ import annotations

from ..config import Settings
from .base import Store
from .redis_store import RedisStore
from .sqlite_store import SqliteStore


def new_store(settings: Settings) -> Store:
    """The store the settings ask for, not yet open (``await store.open()`` connects)."""
    if settings.redis_url:
        return RedisStore(settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.data_dir / "antechamber.sqlite3")


async def open_store(settings: Settings) -> Store:
    store = new_store(settings)
    await store.open()
    return store
