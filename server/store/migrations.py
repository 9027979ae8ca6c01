"""Versioned schema migrations of the SQLite store.

Each migration is a version number and a tuple of SQL statements. ``apply``
runs the ones newer than the database's ``schema_version`` in order, each in
its own ``BEGIN IMMEDIATE`` transaction (so two processes opening the same
file at once do not both apply it), and records the version. Never edit a
migration that has shipped: append a new one.
"""

from __future__ import annotations

import sqlite3
import time

import structlog

log = structlog.get_logger(__name__)

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)""",
        """CREATE TABLE rooms (
            room_id TEXT PRIMARY KEY,
            name_key TEXT NOT NULL,
            creation_date INTEGER NOT NULL,
            deletion_key INTEGER NOT NULL,
            status TEXT NOT NULL,
            api TEXT NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX rooms_by_creation ON rooms (creation_date, room_id)",
        "CREATE INDEX rooms_by_name ON rooms (name_key, room_id)",
        "CREATE INDEX rooms_by_deletion ON rooms (deletion_key, room_id)",
        """CREATE TABLE members (
            room_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            creation_date INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (room_id, member_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE meetings (
            room_session_id TEXT PRIMARY KEY,
            room_id TEXT NOT NULL,
            start_date INTEGER NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX meetings_by_room ON meetings (room_id, start_date, room_session_id)",
        """CREATE TABLE recordings (
            recording_id TEXT PRIMARY KEY,
            room_id TEXT NOT NULL,
            status TEXT NOT NULL,
            start_date INTEGER NOT NULL,
            duration REAL NOT NULL,
            size INTEGER NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX recordings_by_start ON recordings (start_date, recording_id)",
        "CREATE INDEX recordings_by_duration ON recordings (duration, recording_id)",
        "CREATE INDEX recordings_by_size ON recordings (size, recording_id)",
        "CREATE INDEX recordings_by_room ON recordings (room_id, start_date, recording_id)",
    )),
    # rooms are written by compare-and-set on their version; rooms stored before read as version 0
    # (their documents have no version either), and their first write makes them version 1
    (2, (
        "ALTER TABLE rooms ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
    )),
    # the participants' join/leave log of each meeting (Whereby insights)
    (3, (
        """CREATE TABLE participations (
            room_session_id TEXT NOT NULL,
            participant_id TEXT NOT NULL,
            joined_at INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (room_session_id, participant_id)
        ) WITHOUT ROWID""",
    )),
    # the webhook outbox (server/store/sqlite_outbox.py): one row per event and endpoint, and the
    # last sequence number handed out per (endpoint, room)
    (4, (
        """CREATE TABLE webhook_deliveries (
            delivery_id TEXT PRIMARY KEY,
            endpoint_id TEXT NOT NULL,
            room_id TEXT NOT NULL,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            seq INTEGER NOT NULL,
            next_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX webhook_due ON webhook_deliveries (status, next_at)",
        "CREATE INDEX webhook_queue ON webhook_deliveries (endpoint_id, room_id, status, seq)",
        "CREATE INDEX webhook_log ON webhook_deliveries (created_at, delivery_id)",
        """CREATE TABLE webhook_seq (
            endpoint_id TEXT NOT NULL,
            room_id TEXT NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (endpoint_id, room_id)
        ) WITHOUT ROWID""",
    )),
)

LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def apply(conn: sqlite3.Connection, migrations=MIGRATIONS) -> list[int]:
    """Bring the schema up to date; return the versions applied now (empty if none).

    ``conn`` must be in autocommit mode (isolation_level=None).
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
    applied: list[int] = []
    for version, statements in migrations:
        if version <= current_version(conn):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version <= current_version(conn):   # another process got there first
                conn.execute("ROLLBACK")
                continue
            for sql in statements:
                conn.execute(sql)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                         (version, int(time.time() * 1000)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("store schema migrated", old=version - 1, new=version)
        applied.append(version)
    newer = current_version(conn)
    if newer > migrations[-1][0]:
        raise RuntimeError(f"database schema version {newer} is newer than this server knows ({LATEST})")
    return applied
