"""Store factory: SQLite in the data directory by default, Redis with --redis-url."""

from __future__ import annotations

from ..config import Settings
from .base import Store


async def open_store(settings: Settings) -> Store:
    if settings.redis_url:
        from .redis_store import RedisStore

        store = RedisStore(settings.redis_url)
    else:
        from .sqlite_store import SqliteStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(settings.data_dir / "antechamber.sqlite3")
    await store.open()
    return store
