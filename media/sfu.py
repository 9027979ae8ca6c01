"""MediaService: owns the media rooms of this process (one per live meeting).

Create one per application (e.g. in an aiohttp AppKey from cleanup_ctx) and
`await close()` it on shutdown. Implements `ports.MediaServicePort`. Creating
it probes aiortc's internals (`aiortc_compat.check_aiortc`) and the configured
ICE servers, so an unusable set-up fails at start-up, not at the first call.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional

import structlog

from .aiortc_compat import check_aiortc, install_lag_tolerant_consent
from .forward.stats import ForwardTotals, add_counts
from .ice import browser_ice_servers, parse_ice_server
from .heap import GcPauses, HeapPacer
from .load import LoadGauge
from .ports import Listener, MediaConfig
from .room import MediaRoom
from .turns import NEGOTIATIONS_PER_TURN, Turns

log = structlog.get_logger("media.sfu")


class MediaService:
    def __init__(self, config: Optional[MediaConfig] = None, *, max_forward_pps: Optional[float] = None,
                 busy_lag: float = 0.05, busy_cpu: float = 0.9, heap_pacing: bool = False) -> None:
        check_aiortc()
        install_lag_tolerant_consent()    # a lagging loop must not expire healthy peers' ICE consent
        self.config = config or MediaConfig()
        for url in self.config.ice_servers:
            parse_ice_server(url)  # fail at start-up, not at the first call
        self.rooms: dict[str, MediaRoom] = {}
        self.closed = False
        self._publication_numbers = itertools.count(1)
        self.totals = ForwardTotals()     # of the subscriptions and publications that closed
        # loop lag, packets/s, CPU and the busy flag (media/load.py); probing from start() or the first room
        self.load = LoadGauge(lambda: self.forward_stats()["packets"], streams=self.stream_count,
                              max_forward_pps=max_forward_pps, lag_limit=busy_lag, cpu_limit=busy_cpu)
        # garbage-collector pauses (always measured) and pacing (media/heap.py: off unless asked)
        self.gc_pauses = GcPauses.install()
        self.heap = HeapPacer(self.participant_count) if heap_pacing else None
        self.turns = Turns(NEGOTIATIONS_PER_TURN)   # renegotiations, a few per loop iteration (media/turns.py)

    async def start(self) -> None:
        self.load.start()
        if self.heap is not None:
            self.heap.start()

    def participant_count(self) -> int:
        """People with media on this node (the heap pacer counts who left)."""
        return sum(len(room.participants) for room in self.rooms.values())

    def busy(self) -> bool:
        """Past the forwarding budget (loop lag, CPU or packets/s), or the streams admitted since would
        take it past (media/load.py `refuses`): new joins are refused."""
        return self.load.refuses()

    def open_room(self, room_id: str, listener: Optional[Listener] = None) -> MediaRoom:
        room = self.rooms.get(room_id)
        if room is None:
            self.load.start()
            if self.heap is not None:
                self.heap.start()
            room = MediaRoom(room_id, self.config, listener, self._forget, self._publication_numbers, self.totals,
                             departed=self.heap.departed if self.heap is not None else None, turns=self.turns)
            self.rooms[room_id] = room
            log.info("media room opened", room=room_id)
        elif listener is not None:
            room.listener = listener
        return room

    def get_room(self, room_id: str) -> Optional[MediaRoom]:
        return self.rooms.get(room_id)

    def _forget(self, room: MediaRoom) -> None:
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]

    def stream_count(self) -> int:
        """Streams forwarded now (a node's load in the cluster registry): each publication to each
        other participant of its room."""
        return sum(len(room.pubs) * max(len(room.participants) - 1, 0) for room in self.rooms.values())

    def forward_stats(self) -> dict[str, int]:
        """Totals since start (media/forward/stats.py): the closed copies' and the live ones' counts;
        read at scrape time, never on the packet path."""
        out = self.totals.as_dict()
        for room in list(self.rooms.values()):
            for participant in list(room.participants.values()):
                for sub in list(participant.subscriptions.values()):
                    if not sub.forward.closed:
                        add_counts(out, sub.forward.counts())
            for pub in list(room.pubs.values()):
                if not pub.closed:
                    add_counts(out, pub.counts())
        return out

    def rtc_ice_servers(self) -> list[dict[str, Any]]:
        return browser_ice_servers(self.config.ice_servers)

    async def close(self) -> None:
        self.closed = True
        await self.load.stop()
        if self.heap is not None:
            await self.heap.stop()
        for room in list(self.rooms.values()):
            await room.close("server_shutdown")
