"""Roster frames that a backed-up connection sends as one (docs/protocol.md "Server → client",
docs/architecture.md "The event loop, shared"). Pure.

Fifty subscribers joining a room of 250 were 50 ``participant_joined`` frames on each of 250
connections: 12,500 writer steps and socket writes, a fifth of the server's CPU over the joins
(bench/vs_janus.py --sampler, the joins' window) and the writers' steps most of every long loop
iteration. A broadcast of ``participant_joined`` or ``participant_left`` is encoded once per codec as
usual and marked (``mark``: the frame, a ``str``/``bytes`` subclass, carries what it says); a
connection's writer that finds several marked frames of one kind next in its queue sends them as one
``participants_joined`` / ``participants_left`` frame (``merge``), in the same order, made by joining
the parts each marked frame carries already encoded (a connection's backlog is its own: the
merged frames of 250 connections differ, and encoding each again cost more than the writes). A frame
that is not marked (every other message; one relayed from another node) is sent as it is, and a
connection that keeps up sends what it did before. Clients expand a merged frame back into the
single messages (signaling/client.py ``expand``, web/static/js/signaling.js).
"""

from __future__ import annotations

from typing import Any, Optional

from .codec import Codec

# a single message's type -> the merged message's (whose "participants" are the singles' fields)
SINGLE_TO_MERGED = {"participant_joined": "participants_joined", "participant_left": "participants_left"}
MERGE_MAX = 64          # frames in one merged frame (~250 B each): far below any frame limit
_TEXT, _BINARY = Codec(False, 0), Codec(True, 0)    # encode only (merge): no limit of their own


class _Marked:
    kind: str
    part: str | bytes       # what this message contributes to a merged one, encoded with its codec


class MarkedText(str, _Marked):
    """A JSON frame that says which roster change it is."""


class MarkedBinary(bytes, _Marked):
    """A msgpack frame that says which roster change it is."""


def mark(codec: Codec, frame: str | bytes, message: dict[str, Any]) -> str | bytes:
    """``frame`` (``message`` encoded with ``codec``) marked as mergeable, if ``message`` is of a
    mergeable type; raises EncodeError like ``codec.encode``."""
    kind = message.get("type")
    if kind not in SINGLE_TO_MERGED:
        return frame
    marked: MarkedText | MarkedBinary = MarkedBinary(frame) if isinstance(frame, bytes) else MarkedText(frame)
    marked.kind, marked.part = kind, codec.encode({k: v for k, v in message.items() if k != "type"})
    return marked


def kind_of(item: Any) -> Optional[str]:
    """The roster change a queued item is, if it is a marked frame."""
    return item.kind if isinstance(item, _Marked) else None


def merge(frames: list[Any]) -> str | bytes:
    """One frame for ``frames`` (marked, of one kind and one codec, in queue order): the merged
    message's head and the parts as they were encoded, joined (no encoding again)."""
    codec = _BINARY if isinstance(frames[0], bytes) else _TEXT
    return codec.encode_with_list({"type": SINGLE_TO_MERGED[frames[0].kind]}, "participants",
                                  [f.part for f in frames])
