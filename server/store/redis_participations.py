"""The participants' join/leave log of meetings in the Redis store (docs/architecture.md, "Stores
and writes"): one hash per meeting, ``<prefix>participations:<room_session_id>``, participant id ->
msgpack document; HSET replaces a participant's entry atomically (joined, then left)."""

from __future__ import annotations

from typing import Any

import msgpack

from .records import Participation


class RedisParticipations:
    """Mixed into RedisStore, which provides ``_r`` (the client), ``_k`` (prefixed keys) and ``_require_open``."""

    _r: Any

    def _k(self, kind: str, ident: str) -> str: ...   # provided by RedisStore

    def _require_open(self) -> None: ...               # provided by RedisStore

    async def put_participation(self, p: Participation) -> None:
        self._require_open()
        await self._r.hset(self._k("participations", p.room_session_id), p.participant_id,
                           msgpack.packb(p.to_doc(), use_bin_type=True))

    async def list_participations(self, room_session_id: str) -> list[Participation]:
        docs = await self._r.hvals(self._k("participations", room_session_id))
        found = [Participation.from_doc(msgpack.unpackb(raw, raw=False)) for raw in docs]
        return sorted(found, key=lambda p: (p.joined_at, p.participant_id))
