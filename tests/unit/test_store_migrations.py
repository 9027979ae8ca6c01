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
