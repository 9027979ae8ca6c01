"""Redis store: for several processes or machines sharing state (``--redis-url``).

Every key starts with a prefix (default ``antechamber:``; a ``prefix`` query
parameter of the URL overrides it, e.g. ``redis://host:6379/0?prefix=t1:``).
Records are msgpack documents under ``<prefix><kind>:<id>``; sort orders are
sorted sets (scores for dates and sizes, a lexicographic set for names).
Creates, updates and deletes that touch a document and its indexes run as one
Lua script or MULTI transaction, so they are atomic; a create on a taken id
raises AlreadyExists. Filters (name, status, api, room) are applied in Python
while walking the sorted set from the page token's position.

Rooms are written only by compare-and-set: the room script decodes the stored document's
``version`` (cmsgpack; a document without one is version 0) and writes the new document and
its indexes only if it is still the version the writer read (see server/store/cas.py). The
document stays the one source of truth for the version. Redis 7.0's cmsgpack cannot decode
msgpack's bin type, so room documents hold no bytes values (rooms come from JSON: they don't).
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Callable

import msgpack
import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .base import AlreadyExists, Page, RecordingQuery, RoomQuery, StoreError
from .cas import KeyedLocks, modify_room
from .paging import (
    TokenCodec, check_recording_query, check_room_query, deletion_key, name_key, page_limit,
    recording_matches, recording_sort_value, room_matches, room_name_matcher, room_sort_value,
)
from .records import Meeting, Member, Recording, Room
from .redis_url import DEFAULT_PREFIX, split_prefix  # noqa: F401 - also imported from here
from .redis_outbox import RedisOutbox
from .redis_participations import RedisParticipations

log = structlog.get_logger(__name__)


# KEYS: room doc, by-creation, by-deletion, by-name (lex), name-member hash
# ARGV: mode (create|cas), doc, id, creation score, deletion score, lex member, expected version (cas)
_ROOM_PUT = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'create' then
  if current then return 0 end
else
  if not current then return 0 end
  local version = cmsgpack.unpack(current)['version'] or 0
  if version ~= tonumber(ARGV[7]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
local old = redis.call('HGET', KEYS[5], ARGV[3])
if old and old ~= ARGV[6] then redis.call('ZREM', KEYS[4], old) end
redis.call('ZADD', KEYS[4], 0, ARGV[6])
redis.call('HSET', KEYS[5], ARGV[3], ARGV[6])
return 1
"""

# KEYS: room doc, by-creation, by-deletion, by-name, name-member hash, members hash; ARGV: id
_ROOM_DEL = """
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local old = redis.call('HGET', KEYS[5], ARGV[1])
if old then redis.call('ZREM', KEYS[4], old) end
redis.call('HDEL', KEYS[5], ARGV[1])
return existed
"""

# KEYS: doc, sorted sets...; ARGV: mode (create|update), doc, id, one score per sorted set
_DOC_PUT = """
local exists = redis.call('EXISTS', KEYS[1])
if (ARGV[1] == 'create') == (exists == 1) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
for i = 2, #KEYS do redis.call('ZADD', KEYS[i], ARGV[i + 2], ARGV[3]) end
return 1
"""

# KEYS: members hash; ARGV: member id, doc
_HASH_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_ROOM_SETS = {"creationDate": "rooms:created", "autoDeletionDate": "rooms:deletion"}
_REC_SETS = {"startDate": "recs:start", "duration": "recs:duration", "size": "recs:size"}


def _pack(doc: dict[str, Any]) -> bytes:
    return msgpack.packb(doc, use_bin_type=True)


def _unpack(raw: bytes) -> dict[str, Any]:
    return msgpack.unpackb(raw, raw=False)


POOL_SIZE = 100             # connections to Redis per node
POOL_WAIT_SECONDS = 10.0    # how long a command waits for one of them
# Redis away fails fast (503 / ``unavailable``); one retry on a broken connection only (not on a hang)
SOCKET_TIMEOUT, CONNECT_TIMEOUT = 2.0, 1.0
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (aioredis.ConnectionError, aioredis.TimeoutError)


def _lex_member(room: Room) -> bytes:
    return f"{name_key(room.room_name)}\x00{room.room_id}".encode()


class RedisStore(RedisParticipations, RedisOutbox):
    """Store on Redis. ``await open()`` before use; ``await close()`` at the end."""

    def __init__(self, url: str) -> None:
        self.url, self.prefix = split_prefix(url)
        self._redis: aioredis.Redis | None = None
        self._tokens: TokenCodec | None = None
        self._room_locks = KeyedLocks()

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        if self._redis is not None:
            return
        # a burst waits for a free connection (the default pool refuses the 101st command: a 500)
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=POOL_SIZE, timeout=POOL_WAIT_SECONDS, decode_responses=False,
            socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 1, supported_errors=(aioredis.ConnectionError,)))
        r = aioredis.Redis.from_pool(pool)
        try:
            await r.set(self._k("token_secret"), secrets.token_bytes(32), nx=True)
            secret = await r.get(self._k("token_secret"))
        except BaseException:
            await r.aclose()
            raise
        self._redis = r
        self._tokens = TokenCodec(secret)
        self._room_put = r.register_script(_ROOM_PUT)
        self._room_del = r.register_script(_ROOM_DEL)
        self._doc_put = r.register_script(_DOC_PUT)
        self._hash_update = r.register_script(_HASH_UPDATE)
        log.info("redis store opened", prefix=self.prefix)

    async def close(self) -> None:
        r, self._redis = self._redis, None
        if r is not None:
            await r.aclose()
            log.info("redis store closed", prefix=self.prefix)

    def _require_open(self) -> None:
        if self._redis is None:
            raise StoreError("redis store is not open")

    @property
    def _r(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("redis store is not open")
        return self._redis

    async def ping(self) -> bool:
        return bool(await self._r.ping())

    # rooms -------------------------------------------------------------------

    def _room_keys(self, room_id: str) -> list[str]:
        return [self._k("room", room_id), self._k("rooms:created"), self._k("rooms:deletion"),
                self._k("rooms:name"), self._k("rooms:name_member")]

    async def _put_room(self, mode: str, room: Room, expected_version: int = 0) -> int:
        self._require_open()
        return await self._room_put(
            keys=self._room_keys(room.room_id),
            args=[mode, _pack(room.to_doc()), room.room_id, int(room.creation_date), deletion_key(room),
                  _lex_member(room), int(expected_version)])

    async def create_room(self, room: Room) -> None:
        if not await self._put_room("create", dataclasses.replace(room, version=1)):
            raise AlreadyExists(f"room {room.room_id!r} exists")
        room.version = 1

    async def get_room(self, room_id: str) -> Room | None:
        raw = await self._r.get(self._k("room", room_id))
        return Room.from_doc(_unpack(raw)) if raw is not None else None

    async def update_room_if(self, room: Room, expected_version: int) -> bool:
        version = int(expected_version) + 1
        written = bool(await self._put_room("cas", dataclasses.replace(room, version=version), expected_version))
        if written:
            room.version = version
        return written

    async def modify_room(self, room_id: str, change: Callable[[Room], Any]) -> tuple[Room, Any] | None:
        return await modify_room(self, self._room_locks, room_id, change)

    async def delete_room(self, room_id: str) -> bool:
        self._require_open()
        keys = self._room_keys(room_id) + [self._k("members", room_id)]
        return bool(await self._room_del(keys=keys, args=[room_id]))

    async def rooms_due_for_deletion(self, now_ms: int, limit: int = 100) -> list[Room]:
        ids = await self._r.zrangebyscore(self._k("rooms:deletion"), "-inf", int(now_ms), start=0, num=int(limit))
        return [Room.from_doc(d) for d in await self._docs("room", ids)]

    async def _docs(self, kind: str, ids: list[bytes]) -> list[dict[str, Any]]:
        if not ids:
            return []
        raws = await self._r.mget([self._k(kind, i.decode()) for i in ids])
        return [_unpack(raw) for raw in raws if raw is not None]

    async def list_rooms(self, query: RoomQuery) -> Page[Room]:
        check_room_query(query)
        limit = page_limit(query.limit)
        after = self._tokens.decode("rooms", query, query.token) if query.token else None
        filtered = bool(query.room_name or query.status or query.api)
        if query.sort_field == "roomName":
            chunks = self._walk_lex(self._k("rooms:name"), query.sort_order == "desc", after)
        else:
            chunks = self._walk_scores(self._k(_ROOM_SETS[query.sort_field]), query.sort_order == "desc", after)
        name_ok = room_name_matcher(query)
        items = await self._collect(chunks, "room", Room.from_doc, lambda r: room_matches(r, query, name_ok),
                                    limit, filtered)
        return self._finish("rooms", query, items, limit,
                            lambda r: (room_sort_value(r, query.sort_field), r.room_id))

    async def _collect(self, chunks, kind: str, build: Callable, keep: Callable, limit: int,
                       filtered: bool) -> list:
        """Walk id chunks in order, fetch their documents and keep limit + 1 matching items."""
        items: list = []
        size = 200 if filtered else limit + 11
        async for ids in chunks(size):
            for doc in await self._docs(kind, ids):
                item = build(doc)
                if keep(item):
                    items.append(item)
                    if len(items) > limit:
                        return items
        return items

    def _walk_scores(self, key: str, desc: bool, after: tuple[Any, str] | None):
        """Chunks of ids of a scored set, in (score, id) order, strictly after ``after``."""
        async def gen(size: int):
            offset = 0
            while True:
                if desc:
                    rows = await self._r.zrevrangebyscore(
                        key, after[0] if after else "+inf", "-inf", start=offset, num=size, withscores=True)
                else:
                    rows = await self._r.zrangebyscore(
                        key, after[0] if after else "-inf", "+inf", start=offset, num=size, withscores=True)
                offset += len(rows)
                ids = []
                for member, score in rows:
                    if after and score == after[0]:
                        mid = member.decode()
                        if (mid >= after[1]) if desc else (mid <= after[1]):
                            continue
                    ids.append(member)
                if ids:
                    yield ids
                if len(rows) < size:
                    return
        return gen

    def _walk_lex(self, key: str, desc: bool, after: tuple[Any, str] | None):
        """Chunks of room ids of the name set, in (name key, id) order, strictly after ``after``."""
        bound = b"(" + f"{after[0]}\x00{after[1]}".encode() if after else None

        async def gen(size: int):
            offset = 0
            while True:
                if desc:
                    rows = await self._r.zrevrangebylex(key, bound or b"+", b"-", start=offset, num=size)
                else:
                    rows = await self._r.zrangebylex(key, bound or b"-", b"+", start=offset, num=size)
                offset += len(rows)
                ids = [member.split(b"\x00", 1)[1] for member in rows]
                if ids:
                    yield ids
                if len(rows) < size:
                    return
        return gen

    def _finish(self, kind: str, query, items: list, limit: int, key: Callable) -> Page:
        if len(items) <= limit:
            return Page(items=items, next_token=None)
        items = items[:limit]
        value, last_id = key(items[-1])
        return Page(items=items, next_token=self._tokens.encode(kind, query, value, last_id))

    # members -----------------------------------------------------------------

    async def create_member(self, member: Member) -> None:
        created = await self._r.hsetnx(self._k("members", member.room_id), member.member_id,
                                       _pack(member.to_doc()))
        if not created:
            raise AlreadyExists(f"member {member.member_id!r} exists")

    async def get_member(self, room_id: str, member_id: str) -> Member | None:
        raw = await self._r.hget(self._k("members", room_id), member_id)
        return Member.from_doc(_unpack(raw)) if raw is not None else None

    async def list_members(self, room_id: str) -> list[Member]:
        raws = await self._r.hvals(self._k("members", room_id))
        members = [Member.from_doc(_unpack(raw)) for raw in raws]
        members.sort(key=lambda m: (m.creation_date, m.member_id))
        return members

    async def update_member(self, member: Member) -> None:
        self._require_open()
        await self._hash_update(keys=[self._k("members", member.room_id)],
                                args=[member.member_id, _pack(member.to_doc())])

    async def delete_member(self, room_id: str, member_id: str) -> bool:
        return bool(await self._r.hdel(self._k("members", room_id), member_id))

    # meetings ----------------------------------------------------------------

    async def _put_meeting(self, mode: str, meeting: Meeting) -> int:
        self._require_open()
        return await self._doc_put(
            keys=[self._k("meeting", meeting.room_session_id), self._k("meetings", meeting.room_id)],
            args=[mode, _pack(meeting.to_doc()), meeting.room_session_id, int(meeting.start_date)])

    async def create_meeting(self, meeting: Meeting) -> None:
        if not await self._put_meeting("create", meeting):
            raise AlreadyExists(f"meeting {meeting.room_session_id!r} exists")

    async def update_meeting(self, meeting: Meeting) -> None:
        await self._put_meeting("update", meeting)

    async def get_meeting(self, room_session_id: str) -> Meeting | None:
        raw = await self._r.get(self._k("meeting", room_session_id))
        return Meeting.from_doc(_unpack(raw)) if raw is not None else None

    async def list_meetings(self, room_id: str) -> list[Meeting]:
        ids = await self._r.zrevrange(self._k("meetings", room_id), 0, -1)
        meetings = [Meeting.from_doc(d) for d in await self._docs("meeting", ids)]
        return [m for m in meetings if m.room_id == room_id]   # an update may have moved one

    # recordings --------------------------------------------------------------

    async def _put_recording(self, mode: str, rec: Recording) -> int:
        self._require_open()
        keys = [self._k("rec", rec.recording_id)] + [self._k(s) for s in _REC_SETS.values()]
        return await self._doc_put(
            keys=keys,
            args=[mode, _pack(rec.to_doc()), rec.recording_id, int(rec.start_date), repr(float(rec.duration)),
                  int(rec.size)])

    async def create_recording(self, rec: Recording) -> None:
        if not await self._put_recording("create", rec):
            raise AlreadyExists(f"recording {rec.recording_id!r} exists")

    async def get_recording(self, recording_id: str) -> Recording | None:
        raw = await self._r.get(self._k("rec", recording_id))
        return Recording.from_doc(_unpack(raw)) if raw is not None else None

    async def update_recording(self, rec: Recording) -> None:
        await self._put_recording("update", rec)

    async def delete_recording(self, recording_id: str) -> bool:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._k("rec", recording_id))
            for s in _REC_SETS.values():
                pipe.zrem(self._k(s), recording_id)
            results = await pipe.execute()
        return bool(results[0])

    async def list_recordings(self, query: RecordingQuery) -> Page[Recording]:
        check_recording_query(query)
        limit = page_limit(query.limit)
        after = self._tokens.decode("recordings", query, query.token) if query.token else None
        chunks = self._walk_scores(self._k(_REC_SETS[query.sort_field]), query.sort_order == "desc", after)
        items = await self._collect(chunks, "rec", Recording.from_doc, lambda r: recording_matches(r, query),
                                    limit, bool(query.room_id or query.status))
        return self._finish("recordings", query, items, limit,
                            lambda r: (recording_sort_value(r, query.sort_field), r.recording_id))
