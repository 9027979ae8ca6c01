"""What a live room uses of its node: one ``RoomServices``, built by the hub and shared by its rooms.

docs/architecture.md "Objects and ownership": the hub owns these; a room
reaches nothing else of the node. ``rooms`` is the hub's registry itself: a
room that becomes empty removes itself from it (``Roster.forget_if_empty``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..ports import MediaHooks, RoomDirectory
from ..rules.cooldowns import ChatLimits, JoinLimits, KnockLimits
from .events import Events
from .jobs import Job, Jobs
from .meeting_clock import Timers
from .resume import Graces


@dataclass
class RoomServices:
    directory: RoomDirectory        # persistence of meetings and of the lock
    media: MediaHooks               # the SFU (or nothing)
    events: Events                  # room.client.* / room.session.* for webhooks and metrics
    jobs: Jobs                      # what flows must await, run in order in the background
    limits: KnockLimits             # the reject cooldown and the knock rate, node-wide
    graces: Graces                  # away participants and removals while away, node-wide
    rooms: dict[str, Any]           # the hub's registry: room id -> LiveRoom
    wall_clock: Callable[[], float]
    clock: Callable[[], float]      # monotonic: cooldowns, graces
    joins: JoinLimits = field(default_factory=JoinLimits)    # joins per address and per room
    chat: ChatLimits = field(default_factory=ChatLimits)     # chat messages per participant
    timers: Timers = field(default=None)  # type: ignore[assignment]  # meeting deadlines (live/meeting_clock.py)

    def now_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    def later(self, job: Job, what: str) -> None:
        self.jobs.later(job, what)
