"""Client message types and their validation. Pure: no I/O.

Each client message type has a spec: its fields (type, required, bounds).
``parse(obj, spec)`` turns a decoded frame into a ``Request`` or raises a typed
error (``signaling/errors.py``). ``SPECS`` holds the built-in messages (the
SFU's ``publish``, ``subscribe_answer`` and ``ice`` included) and is never
changed; other modules (recording) add their messages to a hub's registry
(``registry.py``), whose ``spec`` lookup the websocket connection passes to
``parse``. docs/protocol.md documents every message.

Every string of a frame (``type``, ``id``, each field, and strings nested in
list/dict fields) is checked or normalised by ``text.py`` as the field's
``text`` policy says, so nothing that is not clean Unicode text gets past
``parse`` (docs/protocol.md, "Text").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import text
from ..errors import BadMessage, InvalidField, UnknownType
from .text import MAX_DISPLAY_NAME, TextError

MAX_ID_CHARS = 64
MAX_NESTING = 8          # list/dict fields: levels of nesting allowed
MAX_CHAT_BYTES = 4096
MAX_SDP_CHARS = 60_000           # subscribe answers: they mirror the server's offer, which grows with the room
MAX_PUBLISH_SDP_BYTES = 32 * 1024   # publish offers (sdp_limits.py counts their media sections)
MUTE_KINDS = ("audio", "video", "screen")

# a string field's text policy (text.py; docs/protocol.md "Text"). Strings nested in a list/dict
# field follow LINES if the field is LINES, else STRICT.
STRICT = "strict"   # refused: lone surrogates, C0/C1 controls, U+2028/U+2029, bidi controls, noncharacters
LINES = "lines"     # as STRICT, but \r, \n and \t are allowed (SDP, ICE candidates)
CHAT = "chat"       # cleaned: text.clean_chat (keeps \n and \t, removes other controls and bidi controls)
NAME = "name"       # normalised: text.normalize_display_name (NFKC, invisible characters removed, 1-64 chars)


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = True
    max_len: int | None = None      # for str (characters), or list length
    max_bytes: int | None = None    # for str, UTF-8 encoded
    min_len: int = 0
    choices: tuple[Any, ...] | None = None
    strip: bool = False
    text: str = STRICT              # how strings are checked: STRICT, LINES, CHAT or NAME


@dataclass(frozen=True)
class Request:
    type: str
    id: Any
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)


_S = str
_BUILTIN_SPECS: dict[str, dict[str, Field]] = {
    "join": {
        "roomName": Field(_S, required=False, min_len=1, max_len=200),
        "roomId": Field(_S, required=False, min_len=1, max_len=200),
        "displayName": Field(_S, min_len=1, max_len=MAX_DISPLAY_NAME, text=NAME),
        "key": Field(_S, required=False, max_len=512),
        "resumeToken": Field(_S, required=False, max_len=128),   # from an earlier `joined` (reconnect)
        "externalId": Field(_S, required=False, min_len=1, max_len=36),   # the integrator's id (docs/embed.md)
        "metadata": Field(_S, required=False, max_len=256),               # passed on to webhooks
        "subscribe": Field(bool, required=False),   # false: publish-only, never offered media (docs/protocol.md)
    },
    "leave": {},
    "ping": {},
    "cancel_knock": {},
    "admit": {"knockId": Field(_S, min_len=1, max_len=64)},
    "admit_all": {},
    "reject": {"knockId": Field(_S, min_len=1, max_len=64), "reason": Field(_S, required=False, max_len=200)},
    "hold": {"knockId": Field(_S, min_len=1, max_len=64), "message": Field(_S, max_len=500)},
    "lock": {"locked": Field(bool)},
    "kick": {"participantId": Field(_S, min_len=1, max_len=64), "reason": Field(_S, required=False, max_len=200)},
    "mute": {"participantId": Field(_S, min_len=1, max_len=64), "kind": Field(_S, choices=MUTE_KINDS)},
    "set_muted": {"kind": Field(_S, choices=MUTE_KINDS), "muted": Field(bool)},
    "set_display_name": {"displayName": Field(_S, min_len=1, max_len=MAX_DISPLAY_NAME, text=NAME)},
    "send_to_waiting_room": {
        "participantId": Field(_S, min_len=1, max_len=64),
        "message": Field(_S, required=False, max_len=500),
    },
    "end_meeting": {},
    "extend": {"minutes": Field(int)},      # 1..1440, checked by live/meeting_clock.py
    "promote": {"participantId": Field(_S, min_len=1, max_len=64)},
    "demote": {"participantId": Field(_S, min_len=1, max_len=64)},
    "chat": {"text": Field(_S, min_len=1, max_bytes=MAX_CHAT_BYTES, text=CHAT)},
    # the SFU's (answered with an error when the server runs without one: ports.MediaHooks)
    "publish": {
        "sdp": Field(_S, min_len=1, max_bytes=MAX_PUBLISH_SDP_BYTES, text=LINES),   # SDP keeps \r\n
        "sources": Field(dict, required=False, max_len=16),
    },
    "subscribe_answer": {"sdp": Field(_S, min_len=1, max_len=MAX_SDP_CHARS, text=LINES)},
    "ice": {
        "pc": Field(_S, choices=("publish", "subscribe")),
        "candidate": Field(dict, required=False, max_len=8, text=LINES),
    },
}


# the built-in messages' specs, read-only (a hub's registry copies them)
SPECS: Mapping[str, Mapping[str, Field]] = MappingProxyType(
    {t: MappingProxyType(fields) for t, fields in _BUILTIN_SPECS.items()})
del _BUILTIN_SPECS

SpecLookup = Callable[[str], "Mapping[str, Field] | None"]


def _checked(value: str, field: str, allow: str = "") -> str:
    try:
        return text.check_text(value, field, allow=allow)
    except TextError as err:
        raise InvalidField(err.message, field=field) from None


def _check_text(name: str, spec: Field, value: str) -> str:
    try:
        if spec.text == NAME:
            return text.normalize_display_name(value, name, max_len=spec.max_len or MAX_DISPLAY_NAME)
        if spec.text == CHAT:
            return text.clean_chat(value, name)
        return text.check_text(value, name, allow=text.LINE_BREAKS if spec.text == LINES else "")
    except TextError as err:
        raise InvalidField(err.message, field=name) from None


def _check_nested(name: str, spec: Field, value: list | dict) -> None:
    """Every string inside a list/dict field (keys and values, at any depth) is checked."""
    allow = text.LINE_BREAKS if spec.text == LINES else ""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InvalidField(f"{name} is nested more than {MAX_NESTING} levels deep", field=name)
        children = [c for kv in item.items() for c in kv] if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, str):
                _checked(child, name, allow)
            elif isinstance(child, (list, dict)):
                stack.append((child, depth + 1))


def _check_id(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidField("id must be a string or an integer", field="id")
    if isinstance(value, str) and len(value) > MAX_ID_CHARS:
        raise InvalidField(f"id is longer than {MAX_ID_CHARS} characters", field="id")
    if isinstance(value, str):
        _checked(value, "id")
    if isinstance(value, int) and abs(value) > 2**53:
        raise InvalidField("id is out of range", field="id")
    return value


def _check_field(name: str, spec: Field, value: Any) -> Any:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        names = "/".join(k.__name__.replace("str", "string").replace("bool", "boolean") for k in kinds)
        raise InvalidField(f"{name} must be a {names}", field=name)
    if isinstance(value, str):
        value = _check_text(name, spec, value)
        if spec.strip:
            value = value.strip()
        if len(value) < spec.min_len:
            raise InvalidField(f"{name} must not be empty", field=name)
        if spec.max_len is not None and len(value) > spec.max_len:
            raise InvalidField(f"{name} is longer than {spec.max_len} characters", field=name)
        if spec.max_bytes is not None and len(value.encode("utf-8", "replace")) > spec.max_bytes:
            raise InvalidField(f"{name} is larger than {spec.max_bytes} bytes", field=name)
    elif isinstance(value, (list, dict)):
        if spec.max_len is not None and len(value) > spec.max_len:
            raise InvalidField(f"{name} has more than {spec.max_len} entries", field=name)
        _check_nested(name, spec, value)
    if spec.choices is not None and value not in spec.choices:
        raise InvalidField(f"{name} must be one of {', '.join(map(str, spec.choices))}", field=name)
    return value


def request_id(obj: Any) -> Any:
    """The id of a decoded frame if it has a usable one (to echo it in an error)."""
    if isinstance(obj, dict):
        try:
            return _check_id(obj.get("id"))
        except InvalidField:
            return None
    return None


def parse(obj: Any, spec_for: SpecLookup = SPECS.get) -> Request:
    """Validate a decoded frame against its type's spec (``spec_for``: a hub's
    ``messages.spec``; the built-in messages by default)."""
    if not isinstance(obj, dict):
        raise BadMessage("a message must be an object with a type")
    msg_type = obj.get("type")
    if not isinstance(msg_type, str) or not msg_type:
        raise UnknownType("a message needs a string type")
    _checked(msg_type, "type")
    spec = spec_for(msg_type)
    if spec is None:
        raise UnknownType(f"unknown message type {msg_type[:40]!r}")
    rid = _check_id(obj.get("id"))
    data: dict[str, Any] = {}
    for name, fspec in spec.items():
        value = obj.get(name)
        if value is None:
            if fspec.required:
                raise InvalidField(f"{name} is required", field=name)
            continue
        data[name] = _check_field(name, fspec, value)
    if msg_type == "join":
        if "roomName" not in data and "roomId" not in data:
            raise InvalidField("roomName is required", field="roomName")
        data["roomName"] = data.pop("roomName", None) or data.pop("roomId")
        data.pop("roomId", None)
    return Request(msg_type, rid, data)
