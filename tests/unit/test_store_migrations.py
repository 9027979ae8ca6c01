"""SQLite schema migrations: applied in order, once, atomically; unknown newer schemas refused."""

from __future__ import annotations

import sqlite3

import pytest

from server.store import migrations

V1 = (1, ("CREATE TABLE one (x INTEGER)",))
V2 = (2, ("CREATE TABLE two (y INTEGER)", "INSERT INTO one (x) VALUES (42)"))
V3_BROKEN = (3, ("CREATE TABLE three (z INTEGER)", "THIS IS NOT SQL"))


def connect(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_real_migrations_apply_once(tmp_path):
    conn = connect(tmp_path / "db")
    assert migrations.apply(conn) == [v for v, _ in migrations.MIGRATIONS]
    assert migrations.apply(conn) == []
    assert migrations.current_version(conn) == migrations.LATEST
    assert {"rooms", "members", "meetings", "recordings", "meta", "schema_version"} <= tables(conn)


def test_new_migrations_apply_in_order_on_an_existing_database(tmp_path):
    conn = connect(tmp_path / "db")
    assert migrations.apply(conn, (V1,)) == [1]
    conn.close()
    conn = connect(tmp_path / "db")
    assert migrations.apply(conn, (V1, V2)) == [2]
    assert conn.execute("SELECT x FROM one").fetchall() == [(42,)]     # ran after v1's table existed
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2]


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path):
    conn = connect(tmp_path / "db")
    migrations.apply(conn, (V1,))
    with pytest.raises(sqlite3.Error):
        migrations.apply(conn, (V1, V3_BROKEN))
    assert migrations.current_version(conn) == 1
    assert "three" not in tables(conn)


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    conn = connect(tmp_path / "db")
    migrations.apply(conn, (V1, V2))
    with pytest.raises(RuntimeError, match="newer"):
        migrations.apply(conn, (V1,))


async def test_rooms_stored_before_versions_read_as_version_0_and_then_count_up(tmp_path):
    """Migration 2 adds rooms.version: an existing room reads as version 0 (its document has no
    version either) and its first compare-and-set write makes it version 1."""
    import json

    from server.store.sqlite_store import SqliteStore

    path = tmp_path / "db"
    conn = connect(path)
    migrations.apply(conn, migrations.MIGRATIONS[:1])
    doc = {"room_id": "old", "room_name": "From before", "creation_date": 5, "status": "open", "api": "native",
           "is_locked": False, "config": {"chat": {"enabled": True}}}
    conn.execute("INSERT INTO rooms (room_id, name_key, creation_date, deletion_key, status, api, doc)"
                 " VALUES ('old', 'from before', 5, ?, 'open', 'native', ?)", (2**62, json.dumps(doc)))
    conn.close()

    store = SqliteStore(path)
    await store.open()
    try:
        assert store.applied_migrations == [v for v, _ in migrations.MIGRATIONS[1:]]   # every later one
        room = await store.get_room("old")
        assert room.version == 0 and room.room_name == "From before"
        stale = await store.get_room("old")
        stored, _ = await store.modify_room("old", lambda r: setattr(r, "is_locked", True))
        assert stored.version == 1 and stored.is_locked
        assert await store.update_room_if(stale, 0) is False       # the version moved on
        assert await store.get_room("old") == stored
    finally:
        await store.close()
    conn = connect(path)
    try:
        assert conn.execute("SELECT version FROM rooms WHERE room_id = 'old'").fetchone() == (1,)
    finally:
        conn.close()
