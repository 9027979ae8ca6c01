"""SQLite store (the default): one file in the data directory, WAL, versioned migrations.

One dedicated thread owns the sqlite3 connection, so the event loop never
blocks on disk; it runs queued calls in batched transactions, each call inside
its own SAVEPOINT (see server/store/sqlite_worker.py). Under load many writes
thus share one commit.

Rooms are written by compare-and-set on their ``version`` column (``UPDATE ... WHERE
room_id = ? AND version = ?``, see server/store/cas.py). That works inside the batch: each
job sees the transaction's state so far, and the batch holds SQLite's write lock from
``BEGIN IMMEDIATE`` to ``COMMIT``, so another process (another connection on the same file)
writes before or after it, never in between; a write whose version moved meanwhile matches no
row and is retried on the room as it is now. A CAS only counts as done once its batch is
committed: if the commit fails, the caller gets the error, never a false success.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Callable

import structlog

from . import migrations
from .base import AlreadyExists, Page, RecordingQuery, RoomQuery, StoreError
from .cas import KeyedLocks, modify_room
from .paging import (
    TokenCodec, check_recording_query, check_room_query, deletion_key, name_key, page_limit,
    recording_sort_value, room_name_matcher, room_sort_value,
)
from .records import Meeting, Member, Participation, Recording, Room
from .sqlite_outbox import SqliteOutbox
from .sqlite_worker import SqliteWorker

log = structlog.get_logger(__name__)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads

_ROOM_COLUMNS = {"creationDate": "creation_date", "roomName": "name_key", "autoDeletionDate": "deletion_key"}
_REC_COLUMNS = {"startDate": "start_date", "duration": "duration", "size": "size"}


class SqliteStore(SqliteOutbox):
    """Store on one SQLite file. ``await open()`` before use; ``await close()`` at the end."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.applied_migrations: list[int] = []
        self._worker: SqliteWorker | None = None
        self._tokens: TokenCodec | None = None
        self._room_locks = KeyedLocks()

    # lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        if self._worker is not None:
            return
        self._worker = SqliteWorker(self.path, asyncio.get_running_loop())
        self._worker.start()
        try:
            secret = await self._worker.call(self._open_sync)
        except BaseException:
            worker, self._worker = self._worker, None
            await worker.stop()
            raise
        self._tokens = TokenCodec(secret)
        log.info("sqlite store opened", path=str(self.path), migrations_applied=self.applied_migrations)

    def _open_sync(self, _conn: None) -> bytes:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               cached_statements=256)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA foreign_keys=OFF")
            self.applied_migrations = migrations.apply(conn)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?)",
                         (secrets.token_bytes(32),))
            secret = conn.execute("SELECT value FROM meta WHERE key = 'token_secret'").fetchone()[0]
        except BaseException:
            conn.close()
            raise
        self._worker.conn = conn
        return bytes(secret)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()
            log.info("sqlite store closed", path=str(self.path))

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._worker is None:
            raise StoreError("sqlite store is not open")
        return await self._worker.call(fn, *args)

    async def _insert(self, sql: str, row: tuple, what: str) -> None:
        """Run an INSERT; AlreadyExists naming ``what`` if its key is taken."""
        def run(c: sqlite3.Connection) -> None:
            try:
                c.execute(sql, row)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"{what} exists") from None
        await self._call(run)

    async def ping(self) -> bool:
        return await self._call(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)

    # rooms -------------------------------------------------------------------

    @staticmethod
    def _room_row(room: Room) -> tuple:
        # the document carries the version too (doc and column always agree)
        return (name_key(room.room_name), int(room.creation_date), deletion_key(room), room.status,
                room.api, _dumps(room.to_doc()), int(room.version), room.room_id)

    async def create_room(self, room: Room) -> None:
        row = self._room_row(dataclasses.replace(room, version=1))
        await self._insert("INSERT INTO rooms (name_key, creation_date, deletion_key, status, api, doc, version,"
                           " room_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row, f"room {room.room_id!r}")
        room.version = 1

    async def get_room(self, room_id: str) -> Room | None:
        row = await self._call(lambda c: c.execute("SELECT doc FROM rooms WHERE room_id = ?", (room_id,)).fetchone())
        return Room.from_doc(_loads(row[0])) if row else None

    async def update_room_if(self, room: Room, expected_version: int) -> bool:
        version = int(expected_version) + 1
        row = self._room_row(dataclasses.replace(room, version=version)) + (int(expected_version),)
        written = await self._call(lambda c: c.execute(
            "UPDATE rooms SET name_key = ?, creation_date = ?, deletion_key = ?, status = ?, api = ?, doc = ?,"
            " version = ? WHERE room_id = ? AND version = ?", row).rowcount == 1)
        if written:
            room.version = version
        return written

    async def modify_room(self, room_id: str, change: Callable[[Room], Any]) -> tuple[Room, Any] | None:
        return await modify_room(self, self._room_locks, room_id, change)

    async def delete_room(self, room_id: str) -> bool:
        def run(c: sqlite3.Connection) -> bool:
            c.execute("DELETE FROM members WHERE room_id = ?", (room_id,))
            return c.execute("DELETE FROM rooms WHERE room_id = ?", (room_id,)).rowcount > 0
        return await self._call(run)

    async def list_rooms(self, query: RoomQuery) -> Page[Room]:
        check_room_query(query)
        limit = page_limit(query.limit)
        col = _ROOM_COLUMNS[query.sort_field]
        where, params = [], []
        name_ok = room_name_matcher(query)
        if name_ok is not None:
            where.append("name_ok(json_extract(doc, '$.room_name'))")
        if query.status is not None:
            where.append("status = ?")
            params.append(query.status)
        if query.api is not None:
            where.append("api = ?")
            params.append(query.api)
        rows = await self._page("rooms", "room_id", col, query, where, params, limit, name_ok)
        items = [Room.from_doc(_loads(doc)) for doc in rows]
        return self._finish("rooms", query, items, limit,
                            lambda r: (room_sort_value(r, query.sort_field), r.room_id))

    async def _page(self, table: str, id_col: str, col: str, query, where: list, params: list,
                    limit: int, name_ok: Callable[[str], bool] | None = None) -> list[str]:
        desc = query.sort_order == "desc"
        if query.token:
            value, last_id = self._tokens.decode(table, query, query.token)
            where.append(f"({col}, {id_col}) {'<' if desc else '>'} (?, ?)")
            params += [value, last_id]
        direction = "DESC" if desc else "ASC"
        sql = (f"SELECT doc FROM {table}{' WHERE ' + ' AND '.join(where) if where else ''}"
               f" ORDER BY {col} {direction}, {id_col} {direction} LIMIT ?")
        params.append(limit + 1)
        if name_ok is None:
            rows = await self._call(lambda c: c.execute(sql, params).fetchall())
            return [r[0] for r in rows]
        failed: list[BaseException] = []

        def predicate(name: Any) -> int:
            # an exception inside SQLite loses its type: keep it and stop matching
            if failed or not isinstance(name, str):
                return 0
            try:
                return 1 if name_ok(name) else 0
            except Exception as exc:
                failed.append(exc)
                return 0

        def run(c: sqlite3.Connection) -> list:
            c.create_function("name_ok", 1, predicate)
            try:
                return c.execute(sql, params).fetchall()
            finally:
                c.create_function("name_ok", 1, None)
        rows = await self._call(run)
        if failed:
            raise failed[0]
        return [r[0] for r in rows]

    def _finish(self, kind: str, query, items: list, limit: int, key: Callable) -> Page:
        if len(items) <= limit:
            return Page(items=items, next_token=None)
        items = items[:limit]
        value, last_id = key(items[-1])
        return Page(items=items, next_token=self._tokens.encode(kind, query, value, last_id))

    async def rooms_due_for_deletion(self, now_ms: int, limit: int = 100) -> list[Room]:
        rows = await self._call(lambda c: c.execute(
            "SELECT doc FROM rooms WHERE deletion_key <= ? ORDER BY deletion_key, room_id LIMIT ?",
            (int(now_ms), int(limit))).fetchall())
        return [Room.from_doc(_loads(r[0])) for r in rows]

    # members -----------------------------------------------------------------

    async def create_member(self, member: Member) -> None:
        row = (member.room_id, member.member_id, int(member.creation_date), _dumps(member.to_doc()))
        await self._insert("INSERT INTO members (room_id, member_id, creation_date, doc) VALUES (?, ?, ?, ?)",
                           row, f"member {member.member_id!r}")

    async def get_member(self, room_id: str, member_id: str) -> Member | None:
        row = await self._call(lambda c: c.execute(
            "SELECT doc FROM members WHERE room_id = ? AND member_id = ?", (room_id, member_id)).fetchone())
        return Member.from_doc(_loads(row[0])) if row else None

    async def list_members(self, room_id: str) -> list[Member]:
        rows = await self._call(lambda c: c.execute(
            "SELECT doc FROM members WHERE room_id = ? ORDER BY creation_date, member_id", (room_id,)).fetchall())
        return [Member.from_doc(_loads(r[0])) for r in rows]

    async def update_member(self, member: Member) -> None:
        row = (int(member.creation_date), _dumps(member.to_doc()), member.room_id, member.member_id)
        await self._call(lambda c: c.execute(
            "UPDATE members SET creation_date = ?, doc = ? WHERE room_id = ? AND member_id = ?", row))

    async def delete_member(self, room_id: str, member_id: str) -> bool:
        return await self._call(lambda c: c.execute(
            "DELETE FROM members WHERE room_id = ? AND member_id = ?", (room_id, member_id)).rowcount > 0)

    # meetings ----------------------------------------------------------------

    async def create_meeting(self, meeting: Meeting) -> None:
        row = (meeting.room_id, int(meeting.start_date), _dumps(meeting.to_doc()), meeting.room_session_id)
        await self._insert("INSERT INTO meetings (room_id, start_date, doc, room_session_id) VALUES (?, ?, ?, ?)",
                           row, f"meeting {meeting.room_session_id!r}")

    async def update_meeting(self, meeting: Meeting) -> None:
        row = (meeting.room_id, int(meeting.start_date), _dumps(meeting.to_doc()), meeting.room_session_id)
        await self._call(lambda c: c.execute(
            "UPDATE meetings SET room_id = ?, start_date = ?, doc = ? WHERE room_session_id = ?", row))

    async def get_meeting(self, room_session_id: str) -> Meeting | None:
        row = await self._call(lambda c: c.execute(
            "SELECT doc FROM meetings WHERE room_session_id = ?", (room_session_id,)).fetchone())
        return Meeting.from_doc(_loads(row[0])) if row else None

    async def list_meetings(self, room_id: str) -> list[Meeting]:
        rows = await self._call(lambda c: c.execute(
            "SELECT doc FROM meetings WHERE room_id = ? ORDER BY start_date DESC, room_session_id DESC",
            (room_id,)).fetchall())
        return [Meeting.from_doc(_loads(r[0])) for r in rows]

    async def put_participation(self, p: Participation) -> None:
        row = (p.room_session_id, p.participant_id, int(p.joined_at), _dumps(p.to_doc()))
        await self._call(lambda c: c.execute(
            "INSERT OR REPLACE INTO participations (room_session_id, participant_id, joined_at, doc)"
            " VALUES (?, ?, ?, ?)", row))

    async def list_participations(self, room_session_id: str) -> list[Participation]:
        rows = await self._call(lambda c: c.execute(
            "SELECT doc FROM participations WHERE room_session_id = ? ORDER BY joined_at, participant_id",
            (room_session_id,)).fetchall())
        return [Participation.from_doc(_loads(r[0])) for r in rows]

    # recordings --------------------------------------------------------------

    @staticmethod
    def _rec_row(rec: Recording) -> tuple:
        return (rec.room_id, rec.status, int(rec.start_date), float(rec.duration), int(rec.size),
                _dumps(rec.to_doc()), rec.recording_id)

    async def create_recording(self, rec: Recording) -> None:
        row = self._rec_row(rec)
        await self._insert("INSERT INTO recordings (room_id, status, start_date, duration, size, doc, recording_id)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", row, f"recording {rec.recording_id!r}")

    async def get_recording(self, recording_id: str) -> Recording | None:
        row = await self._call(lambda c: c.execute(
            "SELECT doc FROM recordings WHERE recording_id = ?", (recording_id,)).fetchone())
        return Recording.from_doc(_loads(row[0])) if row else None

    async def update_recording(self, rec: Recording) -> None:
        row = self._rec_row(rec)
        await self._call(lambda c: c.execute(
            "UPDATE recordings SET room_id = ?, status = ?, start_date = ?, duration = ?, size = ?, doc = ?"
            " WHERE recording_id = ?", row))

    async def delete_recording(self, recording_id: str) -> bool:
        return await self._call(lambda c: c.execute(
            "DELETE FROM recordings WHERE recording_id = ?", (recording_id,)).rowcount > 0)

    async def list_recordings(self, query: RecordingQuery) -> Page[Recording]:
        check_recording_query(query)
        limit = page_limit(query.limit)
        where, params = [], []
        if query.room_id is not None:
            where.append("room_id = ?")
            params.append(query.room_id)
        if query.status is not None:
            where.append("status = ?")
            params.append(query.status)
        rows = await self._page("recordings", "recording_id", _REC_COLUMNS[query.sort_field], query,
                                where, params, limit)
        items = [Recording.from_doc(_loads(doc)) for doc in rows]
        return self._finish("recordings", query, items, limit,
                            lambda r: (recording_sort_value(r, query.sort_field), r.recording_id))
