"""Whereby-compatible meetings API at /v1 (same rooms underneath; meetingId = room id).

Bad input answers 400 naming the field (Whereby's behaviour), a missing or
wrong key 401 ``{"error": ...}``, an unknown meeting 404. A documented option
that cannot be offered here (an S3 recording destination, MP4 files, live
transcription, RTMP streaming) answers 403 -- the status Whereby's spec allows on
create -- with a ``code`` naming the missing capability; nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Optional

from aiohttp import web
from pydantic import Field, field_validator

from ...domain.access.links import RoomLinks
from ...domain.errors import BadRequest, Forbidden, NotFound
from ...domain import end_dates
from ...domain.rooms.defaults import DEFAULT_ACCESS, DEFAULT_CONFIG, DEFAULT_POLICY, deep_merge, now_ms
from ...store.base import InvalidToken, RoomQuery
from ...store.records import Room
from ..appkeys import LINKS, ROOMS, STORE
from .auth import add_routes
from .jsonbody import read_object
from .query import bad, int_param
from .room_view import timing
from .embed_schema import OptionalEmbedOrigins, embed_origins_field
from .schemas import MAX_EPOCH_MS, PREFIX_MAX, PREFIX_PATTERN, Strict, timing_field, validate

URL_FIELDS = ("hostRoomUrl", "viewerRoomUrl")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


TEXT_MAX = 2048


class DestinationIn(Strict):
    """recording.destination / liveTranscription.destination (Whereby v1)."""

    provider: Literal["s3", "whereby"]
    authenticationType: Optional[Literal["accessKey", "roleBased"]] = None
    bucket: Optional[str] = Field(None, max_length=TEXT_MAX)
    region: Optional[str] = Field(None, max_length=TEXT_MAX)
    accessKeyId: Optional[str] = Field(None, max_length=TEXT_MAX)
    accessKeySecret: Optional[str] = Field(None, max_length=TEXT_MAX)
    fileFormat: Optional[Literal["mkv", "mp4"]] = None
    oidcRoleArn: Optional[str] = Field(None, max_length=TEXT_MAX)


class RecordingIn(Strict):
    """The spec requires type, destination and startTrigger; destination and startTrigger may be
    null ("inherited"), and are accepted when left out, as before."""

    type: Literal["none", "local", "cloud"] = "none"
    destination: Optional[DestinationIn] = None
    startTrigger: Optional[Literal["none", "prompt", "automatic", "automatic-2nd-participant"]] = None


class TranscriptionIn(Strict):
    destination: Optional[DestinationIn] = None
    startTrigger: Optional[Literal["none", "prompt", "automatic", "automatic-2nd-participant"]] = None


class StreamDestinationIn(Strict):
    url: str = Field(max_length=TEXT_MAX)


class StreamingIn(Strict):
    destination: Optional[StreamDestinationIn] = None
    startTrigger: Optional[Literal["none", "prompt", "automatic"]] = None


class CreateMeetingIn(Strict):
    """POST /v1/meetings (every field of Whereby v1's request body)."""

    endDate: str = Field(min_length=1, max_length=64, json_schema_extra={
        "format": "date-time", "description": "ISO 8601; UTC unless an offset is given; not in the past",
        "examples": ["2099-08-11T07:56:01-05:00"]})
    isLocked: bool = False
    roomMode: Literal["normal", "group"] = "normal"
    roomNamePrefix: str = Field("", max_length=PREFIX_MAX, pattern=PREFIX_PATTERN, json_schema_extra={
        "description": "lower-cased and stripped of white space first, as Whereby does",
        "examples": ["example-prefix"]})
    roomNamePattern: Literal["uuid", "human-short"] = "uuid"
    templateType: Optional[Literal["viewerMode"]] = None
    fields: list[Literal["hostRoomUrl", "viewerRoomUrl"]] = Field(default_factory=list, max_length=2)
    recording: Optional[RecordingIn] = None
    liveTranscription: Optional[TranscriptionIn] = Field(None, json_schema_extra={
        "description": "not supported here: a non-null value answers 403 transcription_not_supported"})
    streaming: Optional[StreamingIn] = Field(None, json_schema_extra={
        "description": "not supported here: a non-null value answers 403 streaming_not_supported"})
    startDate: Optional[str] = Field(None, max_length=64, json_schema_extra={
        "deprecated": True, "description": "accepted for compatibility and ignored (as Whereby does)"})
    meetingEndsAtEndDate: Optional[bool] = timing_field("meetingEndsAtEndDate")
    maxDurationMinutes: Optional[int] = timing_field("maxDurationMinutes")
    soloTimeoutMinutes: Optional[int] = timing_field("soloTimeoutMinutes")
    embedOrigins: OptionalEmbedOrigins = embed_origins_field()

    @field_validator("roomNamePrefix", mode="before")
    @classmethod
    def _lower_case(cls, v: Any) -> Any:
        """Whereby: "The string should be lowercase, and spaces will be automatically removed"; its own
        examples use capitals, so a prefix is lower-cased too."""
        return "".join(v.split()).lower() if isinstance(v, str) else v


def refuse_unavailable(spec: CreateMeetingIn) -> None:
    """403 naming the capability for each documented option that cannot be offered here."""
    dest = spec.recording.destination if spec.recording is not None else None
    if dest is not None and dest.provider == "s3":
        raise Forbidden("recording.destination.provider 's3' is not supported: this server stores recordings "
                        "itself (use provider 'whereby' or null) and uploads to no S3 bucket",
                        code="s3_destination_not_supported")
    if dest is not None and dest.fileFormat == "mp4":
        raise Forbidden("recording.destination.fileFormat 'mp4' is not supported: recordings are Matroska "
                        "(mkv) files here", code="mp4_recording_not_supported")
    if spec.liveTranscription is not None:
        raise Forbidden("liveTranscription is not supported: this server has no transcription service",
                        code="transcription_not_supported")
    if spec.streaming is not None:
        raise Forbidden("streaming is not supported: this server has no RTMP streaming",
                        code="streaming_not_supported")


def parse_end_date(text: str, now: int) -> int:
    """ISO 8601 -> epoch ms; UTC unless an offset is given; must lie in the future."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad("endDate", "must be an ISO 8601 date, e.g. 2099-08-11T07:56:01Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        ms = int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        raise bad("endDate", "is out of range") from None
    if ms <= now:
        raise bad("endDate", "must not be in the past")
    if ms > MAX_EPOCH_MS:
        raise bad("endDate", "is out of range")
    return ms


def iso_utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def render_meeting(links: RoomLinks, room: Room, fields: set[str] | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "meetingId": room.room_id,
        "roomName": "/" + room.room_id,
        "roomUrl": links.guest(room),
        "startDate": iso_utc(room.creation_date),
        "endDate": iso_utc(end_dates.end_date(room)),
        **timing(room, only_set=True),     # Antechamber extensions, only when the room sets them
    }
    if room.embed_origins:
        out["embedOrigins"] = list(room.embed_origins)
    viewer_mode = room.template_type == "viewerMode"   # Whereby: adds both links to the answer
    if "hostRoomUrl" in fields or viewer_mode:
        out["hostRoomUrl"] = links.host(room)
    if "viewerRoomUrl" in fields or viewer_mode:
        out["viewerRoomUrl"] = links.viewer(room)
    return out


def _fields_param(request: web.Request) -> set[str]:
    raw = request.query.get("fields", "")
    fields = {f.strip() for f in raw.split(",") if f.strip()}
    unknown = sorted(fields - set(URL_FIELDS))
    if unknown:
        raise bad("fields", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(URL_FIELDS)}")
    return fields


async def create_meeting(request: web.Request) -> web.Response:
    spec = validate(CreateMeetingIn, await read_object(request), BadRequest)
    end = parse_end_date(spec.endDate, now_ms())
    refuse_unavailable(spec)
    viewer_mode = spec.templateType == "viewerMode"
    config = dict(DEFAULT_CONFIG)
    if spec.recording is not None:
        config["recording"] = {"enabled": spec.recording.type != "none", "type": spec.recording.type,
                               "startTrigger": spec.recording.startTrigger or "none"}
    room = await request.app[ROOMS].create(
        prefix=spec.roomNamePrefix, pattern=spec.roomNamePattern,
        room_name=spec.roomNamePrefix.rstrip("-") or "Meeting",
        auto_deletion_date=end_dates.whereby_deletion_date(end), end_date=end,
        auto_deletion_policy=dict(DEFAULT_POLICY), meeting_ends_at_end_date=bool(spec.meetingEndsAtEndDate),
        max_duration_minutes=spec.maxDurationMinutes, solo_timeout_minutes=spec.soloTimeoutMinutes,
        config=config, access=deep_merge(DEFAULT_ACCESS, {}),
        is_locked=True if viewer_mode else spec.isLocked,
        room_mode="group" if viewer_mode else spec.roomMode,
        template_type="viewerMode" if viewer_mode else None,
        api="whereby", embed_origins=spec.embedOrigins or [],
    )
    return web.json_response(render_meeting(request.app[LINKS], room, set(spec.fields)), status=201)


async def list_meetings(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT, whereby=True)
    fields = _fields_param(request)
    query = RoomQuery(api="whereby", sort_field="creationDate", sort_order="asc", limit=limit,
                      token=request.query.get("cursor") or None)
    try:
        page = await request.app[STORE].list_rooms(query)
    except InvalidToken:
        raise bad("cursor", "is not a cursor this server handed out") from None
    links = request.app[LINKS]
    return web.json_response({"results": [render_meeting(links, r, fields) for r in page.items],
                              "cursor": page.next_token})


async def get_meeting(request: web.Request) -> web.Response:
    fields = _fields_param(request)
    room = await request.app[STORE].get_room(request.match_info["meetingId"])
    if room is None:
        raise NotFound("meeting not found", code="meeting_not_found")
    return web.json_response(render_meeting(request.app[LINKS], room, fields))


async def delete_meeting(request: web.Request) -> web.Response:
    """Delete the room (Whereby: a live meeting is ended, recordings are kept and outlive it). Idempotent."""
    meeting_id = request.match_info["meetingId"]
    if await request.app[STORE].get_room(meeting_id) is not None:
        try:
            await request.app[ROOMS].delete(meeting_id, "force", "keep")
        except NotFound:
            pass  # deleted concurrently
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    add_routes(app, ["/v1"], [
        ("POST", "/meetings", create_meeting), ("GET", "/meetings", list_meetings),
        ("GET", "/meetings/{meetingId}", get_meeting), ("DELETE", "/meetings/{meetingId}", delete_meeting),
    ])
