"""Merged roster frames (signaling/wire/merge.py): what a backed-up connection sends instead of a run
of participant_joined / participant_left frames decodes to the same messages, in order, in both codecs,
and the Python client expands it back."""

from __future__ import annotations

import json

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from signaling.client import MERGED, expand
from signaling.wire.codec import Codec
from signaling.wire.merge import SINGLE_TO_MERGED, kind_of, mark, merge

JSON, MSGPACK = Codec(False, 65536), Codec(True, 65536)


def _decode(codec: Codec, frame: str | bytes) -> dict:
    return msgpack.unpackb(frame, raw=False) if codec.binary else json.loads(frame)


def _marked(codec: Codec, message: dict) -> str | bytes:
    return mark(codec, codec.encode(message), message)


def _joined(pid: str, name: str) -> dict:
    return {"type": "participant_joined",
            "participant": {"participantId": pid, "displayName": name, "role": "guest",
                            "muted": {"audio": False, "video": True, "screen": False}, "joinedAt": 1_700_000_000_000}}


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)   # no lone surrogates: not sendable


@given(st.lists(names, min_size=1, max_size=70), st.booleans())
def test_a_merged_frame_holds_the_singles_in_order(display_names: list[str], binary: bool) -> None:
    codec = MSGPACK if binary else JSON
    singles = [_joined(f"p_{i}", n) for i, n in enumerate(display_names)]
    frames = [_marked(codec, m) for m in singles]
    assert all(kind_of(f) == "participant_joined" for f in frames)
    assert [_decode(codec, f) for f in frames] == singles      # a marked frame is still the single frame
    merged = _decode(codec, merge(frames))
    assert merged["type"] == "participants_joined"
    assert expand(merged) == singles


def test_leaves_merge_too_and_keep_their_reasons() -> None:
    singles = [{"type": "participant_left", "participantId": f"p_{i}", "reason": r}
               for i, r in enumerate(("left", "kicked", "disconnected"))]
    for codec in (JSON, MSGPACK):
        merged = _decode(codec, merge([_marked(codec, m) for m in singles]))
        assert merged == {"type": "participants_left",
                          "participants": [{k: v for k, v in m.items() if k != "type"} for m in singles]}
        assert expand(merged) == singles


def test_other_messages_are_not_marked() -> None:
    for message in ({"type": "participant_updated", "participant": {"participantId": "p_1"}},
                    {"type": "chat", "text": "hi"}, {"type": "joined", "participants": []}):
        frame = JSON.encode(message)
        assert kind_of(mark(JSON, frame, message)) is None
        assert kind_of(frame) is None


def test_the_python_client_knows_every_merged_type() -> None:
    assert MERGED == {merged: single for single, merged in SINGLE_TO_MERGED.items()}


def test_expand_leaves_a_malformed_merged_frame_alone() -> None:
    odd = {"type": "participants_joined", "participants": "not a list"}
    assert expand(odd) == [odd]
    assert expand({"type": "participants_joined", "participants": [1, {"participant": {}}]}) == \
        [{"type": "participant_joined", "participant": {}}]
