"""Request bodies of both REST surfaces as pydantic v2 models.

Every model forbids unknown fields and uses strict types ("true" is not a
boolean, 1.0 is not an integer). ``validate`` turns a pydantic error into the
API's error body, naming each offending field with a dotted path; the native
API answers 422, the Whereby-compatible one 400.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Optional, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from signaling.rules.permissions import PERMISSIONS

from ...domain.errors import ApiError, Unprocessable
from .embed_schema import OptionalEmbedOrigins, embed_origins_field

ROOM_NAME_MAX = 50
PREFIX_MAX = 39
PREFIX_PATTERN = r"^[a-z0-9-]*$"
ONE_HOUR_MS = 3_600_000
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Toggle(Strict):
    enabled: bool


ENCODING_PRESETS = (
    "H264_720P_30", "H264_720P_60", "H264_1080P_30", "H264_1080P_60",
    "PORTRAIT_H264_720P_30", "PORTRAIT_H264_720P_60", "PORTRAIT_H264_1080P_30", "PORTRAIT_H264_1080P_60",
)


class VideoEncodingIn(Strict):
    """OpenVidu Meet's MeetRecordingVideoEncodingOptions (all fields required)."""

    width: int = Field(ge=1, le=7680)
    height: int = Field(ge=1, le=7680)
    framerate: int = Field(ge=1, le=240)
    codec: Literal["DEFAULT_VC", "H264_BASELINE", "H264_MAIN", "H264_HIGH", "VP8"]
    bitrate: int = Field(ge=1, le=1_000_000)
    keyFrameInterval: float = Field(ge=0, le=3600)
    depth: int = Field(ge=1, le=64)

    @field_validator("keyFrameInterval", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:  # a JSON number, integer or not (strict mode refuses 4 for a float)
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


class AudioEncodingIn(Strict):
    """OpenVidu Meet's MeetRecordingAudioEncodingOptions (all fields required)."""

    codec: Literal["DEFAULT_AC", "OPUS", "AAC", "AC_MP3"]
    bitrate: int = Field(ge=1, le=10_000)
    frequency: int = Field(ge=1, le=384_000)


class EncodingOptionsIn(Strict):
    video: VideoEncodingIn
    audio: AudioEncodingIn


class RecordingConfigIn(Strict):
    """config.recording: ``enabled`` acts; ``layout`` and ``encoding`` are stored (see docs/compatibility.md)."""

    enabled: Optional[bool] = None
    layout: Optional[Literal["grid", "speaker", "single-speaker"]] = None
    encoding: Optional[Union[Literal[ENCODING_PRESETS], EncodingOptionsIn]] = None  # type: ignore[valid-type]


class RoomConfigIn(Strict):
    chat: Optional[Toggle] = None
    recording: Optional[RecordingConfigIn] = None
    virtualBackground: Optional[Toggle] = None
    e2ee: Optional[Toggle] = None
    captions: Optional[Toggle] = None  # stored; live captions are not offered here


PermissionsIn = create_model(  # every OpenVidu 3.8 permission, each optional
    "PermissionsIn",
    __base__=Strict,
    **{name: (Optional[bool], None) for name in PERMISSIONS},
)


class RolePermissionsIn(Strict):
    permissions: PermissionsIn  # type: ignore[valid-type]


class RolesIn(Strict):
    moderator: Optional[RolePermissionsIn] = None
    speaker: Optional[RolePermissionsIn] = None


class AnonymousIn(Strict):
    moderator: Optional[Toggle] = None
    speaker: Optional[Toggle] = None
    recording: Optional[Toggle] = None


class AccessIn(Strict):
    anonymous: Optional[AnonymousIn] = None
    user: Optional[Toggle] = None  # stored; there are no user accounts here (the room owner is the API key)


class AutoDeletionPolicyIn(Strict):
    withMeeting: Literal["force", "when_meeting_ends"] = "when_meeting_ends"
    withRecordings: Literal["force", "close"] = "close"


TIMING_MAX_MINUTES = 1440
_TIMING_DOC = {
    "meetingEndsAtEndDate": "Antechamber extension: a meeting ends at the room's end date (native: autoDeletionDate; "
                            "Whereby: endDate); needs one",
    "maxDurationMinutes": "Antechamber extension: a meeting ends this many minutes after it started (hosts may "
                          "extend it); countdown 5 and 1 minute before",
    "soloTimeoutMinutes": "Antechamber extension: a meeting with one participant alone for this many minutes ends",
}


def timing_field(name: str) -> Any:
    if name == "meetingEndsAtEndDate":
        return Field(None, json_schema_extra={"description": _TIMING_DOC[name]})
    return Field(None, ge=1, le=TIMING_MAX_MINUTES, json_schema_extra={"description": _TIMING_DOC[name]})


class MeetingTimingIn(Strict):
    """PUT .../timing (Antechamber extension, both surfaces): only while no meeting runs; a field
    given as null is cleared, a field left out is kept."""

    meetingEndsAtEndDate: Optional[bool] = timing_field("meetingEndsAtEndDate")
    maxDurationMinutes: Optional[int] = timing_field("maxDurationMinutes")
    soloTimeoutMinutes: Optional[int] = timing_field("soloTimeoutMinutes")


class ExtendMeetingIn(Strict):
    """POST .../extend (Antechamber extension): move the running meeting's end ``minutes`` later."""

    minutes: int = Field(ge=1, le=TIMING_MAX_MINUTES)


class CreateRoomIn(Strict):
    """POST /api/v1/rooms (OpenVidu Meet 3.8 fields plus Antechamber extensions)."""

    roomName: str = Field("Room", min_length=1, max_length=ROOM_NAME_MAX, pattern=r"^[^\x00-\x1f\x7f]*$")
    autoDeletionDate: Optional[int] = None
    autoDeletionPolicy: Optional[AutoDeletionPolicyIn] = None
    config: Optional[RoomConfigIn] = None
    roles: Optional[RolesIn] = None
    access: Optional[AccessIn] = None
    isLocked: bool = False
    roomMode: Literal["normal", "group"] = "normal"
    roomNamePrefix: str = Field("", max_length=PREFIX_MAX, pattern=PREFIX_PATTERN)
    roomNamePattern: Literal["uuid", "human-short"] = "uuid"
    meetingEndsAtEndDate: Optional[bool] = timing_field("meetingEndsAtEndDate")
    maxDurationMinutes: Optional[int] = timing_field("maxDurationMinutes")
    soloTimeoutMinutes: Optional[int] = timing_field("soloTimeoutMinutes")
    embedOrigins: OptionalEmbedOrigins = embed_origins_field()

    @field_validator("roomName")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("autoDeletionDate")
    @classmethod
    def _at_least_an_hour_ahead(cls, v: Optional[int]) -> Optional[int]:
        if v is None:
            return v
        if v > MAX_EPOCH_MS:
            raise ValueError("must be a date before the year 10000 (epoch milliseconds)")
        if v < int(time.time() * 1000) + ONE_HOUR_MS:
            raise ValueError("must be at least one hour in the future (epoch milliseconds)")
        return v

    @model_validator(mode="after")
    def _end_date_for_meetings(self) -> "CreateRoomIn":
        if self.meetingEndsAtEndDate and self.autoDeletionDate is None:
            raise ValueError("meetingEndsAtEndDate needs an autoDeletionDate (the end date meetings end at)")
        return self


class UpdateConfigIn(Strict):
    config: RoomConfigIn


class UpdateRolesIn(Strict):
    roles: RolesIn


class UpdateAccessIn(Strict):
    access: AccessIn


class UpdateStatusIn(Strict):
    status: Literal["open", "closed"]


class UpdateLockIn(Strict):
    isLocked: bool


M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "body"


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "field required"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": _field_path(tuple(e.get("loc", ()))), "message": _message(e)}
            for e in exc.errors(include_url=False, include_input=False)]


def validate(model: type[M], data: Any, error: type[ApiError] = Unprocessable) -> M:
    """Validate ``data`` against ``model`` or raise ``error`` naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = error_details(exc)
        fields = ", ".join(sorted({d["field"] for d in details}))
        raise error(f"invalid request: {fields}", code="validation_error", details=details) from None
