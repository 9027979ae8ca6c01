"""Records kept by a Store. Plain dataclasses, serialised as JSON documents.

Times are epoch milliseconds (int). Every record round-trips through
``to_doc()`` / ``from_doc()`` unchanged; both stores keep the document and
index only the fields they filter or sort on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

RoomStatus = Literal["open", "active_meeting", "closed"]
RecordingStatus = Literal["starting", "active", "ending", "complete", "failed"]


def _from(cls, doc: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass
class Room:
    room_id: str                      # URL slug: guest link is <public-url>/<room_id>
    room_name: str = "Room"           # display name (OpenVidu roomName)
    creation_date: int = 0
    auto_deletion_date: int | None = None   # Whereby endDate
    auto_deletion_policy: dict[str, str] = field(
        default_factory=lambda: {"withMeeting": "when_meeting_ends", "withRecordings": "close"})
    config: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, Any] = field(default_factory=dict)      # per-role permission overrides (partial)
    access: dict[str, Any] = field(default_factory=dict)     # access.anonymous.{moderator,speaker,recording}.enabled
    status: str = "open"
    is_locked: bool = False
    room_mode: str = "normal"         # normal | group
    key_version: int = 0
    template_type: str | None = None  # "viewerMode" (Whereby)
    api: str = "native"               # which surface created it: native | whereby
    pending_deletion: dict[str, str] | None = None  # set by DELETE ... when_meeting_ends
    roles_updated_at: int = 0         # OpenVidu rolesUpdatedAt: last roles/access change (0 = creation date)
    theme: dict[str, Any] = field(default_factory=dict)   # Whereby room theme (server/domain/rooms/theme.py)
    embed_origins: list[str] = field(default_factory=list)  # may frame the room page (server/origins.py)
    # meetings that end on time (docs/architecture.md "Life cycles"; server/domain/end_dates.py)
    end_date: int | None = None       # Whereby endDate (its auto_deletion_date is when the sweeper deletes it)
    meeting_ends_at_end_date: bool = False
    max_duration_minutes: int | None = None
    solo_timeout_minutes: int | None = None
    # set by the store: 1 when created, +1 on every write (compare-and-set); 0 = stored before versions
    version: int = 0

    def to_doc(self) -> dict[str, Any]:
        # shallow: the stores serialise the document at once (asdict's deep copy cost ~35 us per room)
        return {name: getattr(self, name) for name in _ROOM_FIELDS}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Room":
        return _from(cls, doc)


_ROOM_FIELDS = tuple(f.name for f in dataclasses.fields(Room))


@dataclass
class Member:
    member_id: str
    room_id: str
    name: str
    base_role: str                    # moderator | speaker
    custom_permissions: dict[str, bool] = field(default_factory=dict)
    creation_date: int = 0
    key_version: int = 0
    permissions_updated_at: int = 0   # OpenVidu permissionsUpdatedAt: last own role/permission change (0 = creation)

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Member":
        return _from(cls, doc)


@dataclass
class Meeting:
    room_session_id: str
    room_id: str
    start_date: int
    end_date: int | None = None
    peak_participants: int = 0
    end_reason: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Meeting":
        return _from(cls, doc)


@dataclass
class Participation:
    """One participant's time in one meeting (room session): the join/leave log behind Whereby's insights."""
    room_session_id: str
    participant_id: str
    room_id: str
    display_name: str = ""
    role: str = "guest"               # host | guest | viewer (as they joined)
    joined_at: int = 0
    left_at: int | None = None        # None while in the meeting
    leave_reason: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Participation":
        return _from(cls, doc)


@dataclass
class Recording:
    recording_id: str
    room_id: str
    room_session_id: str | None = None
    status: str = "starting"
    start_date: int = 0
    end_date: int | None = None
    duration: float = 0.0             # seconds
    size: int = 0                     # bytes
    filename: str = ""                # file name inside the data dir's recordings/ (never from a request)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    link_secret_version: int = 0
    node_id: str = ""                 # the node that wrote the file ("" = before clusters: this node's)
    composition: str | None = None    # the composed MP4: None (never asked) | pending | ready | failed
    composition_progress: float = 0.0     # 0..1 while pending
    composition_error: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Recording":
        return _from(cls, doc)
