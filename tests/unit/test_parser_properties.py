"""Property-based tests of every parser at the edge: whatever arrives, each answers a value or its
own typed error (a websocket ``error``, a REST ``{code, message}``), never another exception.

websocket frames (signaling/wire/codec.py, protocol.py) in JSON and msgpack: arbitrary bytes and
text, duplicate keys, deep nesting, huge numbers, a wrong type for each field of each message;
SDP offers (media/sources.py, signaling/wire/sdp_limits.py): arbitrary text and mutated offers;
query parameters (server/http/api/query.py and the handlers' own readers).

Example counts come from the hypothesis profile (tests/conftest.py: ``ci`` by default,
``HYPOTHESIS_PROFILE=thorough`` for a longer run).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import msgpack
import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from media.ports import BadDescription, NotAllowed
from media.sources import assign_sources, parse_offer
from server.domain.access.signed_links import LinkError, verify
from server.domain.errors import ApiError
from server.http.api import query as q
from server.http.api.native_rooms import clamped_max_items
from server.http.api.recordings_native import page_size
from signaling.errors import InvalidField, SignalingError
from signaling.wire import sdp_limits
from signaling.wire.codec import Codec
from signaling.wire.protocol import MAX_NESTING, SPECS, parse
from signaling.wire.text import TextError

MAX = 64 * 1024
JSON, MSGPACK = Codec(False, MAX), Codec(True, MAX)

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) \
    | st.floats(allow_nan=True) | st.text(max_size=40)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4), max_leaves=20)
types = st.sampled_from(sorted(SPECS)) | st.text(max_size=12)


def decode_then_parse(codec: Codec, frame) -> None:
    """What the connection does with a frame: decode, parse; only signaling errors may come out."""
    try:
        obj = codec.decode_binary(frame) if isinstance(frame, bytes) else codec.decode_text(frame)
        parse(obj)
    except SignalingError as err:
        msg = err.to_message("x")
        assert msg["type"] == "error" and msg["code"] and msg["message"]


@given(st.binary(max_size=300))
def test_any_bytes_as_msgpack_or_text(data):
    decode_then_parse(MSGPACK, data)
    decode_then_parse(JSON, data.decode("latin-1"))


@given(st.dictionaries(st.sampled_from(["type", "id", "roomName", "displayName", "key", "text", "sdp", "sources",
                                        "candidate", "knockId", "locked", "minutes", "kind", "muted", "pc"])
                       | st.text(max_size=10), values, max_size=8), types)
def test_any_object_in_either_codec(obj, msg_type):
    obj = {**obj, "type": msg_type}
    for codec in (JSON, MSGPACK):
        try:
            frame = codec.encode(obj)
        except ValueError:
            continue          # not encodable in this codec (NaN in msgpack is fine; lone surrogates are not)
        decode_then_parse(codec, frame)


@given(types, st.lists(st.tuples(st.sampled_from(["type", "key", "displayName", "roomName", "id"]), scalars),
                       min_size=2, max_size=6))
def test_duplicate_keys(msg_type, pairs):
    """JSON and msgpack objects with a key given twice: the last one counts in both, as json.loads does."""
    pairs = [("type", msg_type), *pairs]
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"
    packer = msgpack.Packer(use_bin_type=True)
    binary = packer.pack_map_header(len(pairs)) + b"".join(packer.pack(k) + packer.pack(v) for k, v in pairs)
    decode_then_parse(JSON, text)
    decode_then_parse(MSGPACK, binary)
    assert json.loads(text) == msgpack.unpackb(binary, raw=False, strict_map_key=False) or any(
        isinstance(v, float) for _, v in pairs)


@pytest.mark.parametrize("depth", [MAX_NESTING, MAX_NESTING + 1, 500, 100_000])
@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_deep_nesting(codec, depth):
    nested_json = "[" * depth + "]" * depth
    frame = ('{"type":"publish","sdp":"v=0","sources":{"a":' + nested_json + "}}")
    if codec is MSGPACK:
        frame = b"\x83\xa4type\xa7publish\xa3sdp\xa3v=0\xa7sources\x81\xa1a" + b"\x91" * (depth - 1) + b"\x90"
    if len(frame) > MAX:
        with pytest.raises(SignalingError):
            codec.decode_binary(frame) if isinstance(frame, bytes) else codec.decode_text(frame)
        return
    decode_then_parse(codec, frame)
    if depth > MAX_NESTING:
        with pytest.raises(SignalingError):
            parse(codec.decode_binary(frame) if isinstance(frame, bytes) else codec.decode_text(frame))


@pytest.mark.parametrize("number", ["1e999", "-1e999", "9" * 400, "9" * 5000, "1.5", "-0", "1e-999", "NaN",
                                    "Infinity", str(2**53 + 1), str(-(2**64))])
@pytest.mark.parametrize("where", ["id", "minutes", "locked", "displayName", "text"])
def test_huge_numbers(number, where):
    frame = '{"type":"extend","id":1,"minutes":5,"displayName":"A","text":"t","locked":true}'
    frame = frame.replace(f'"{where}":', f'"{where}":{number},"_{where}":')
    decode_then_parse(JSON, frame)


def _wrong_for(spec) -> st.SearchStrategy:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    def wrong(v) -> bool:
        return not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds)
    return values.filter(lambda v: v is not None and wrong(v))


FIELDS = [(t, name) for t, fields in SPECS.items() for name in fields]


@pytest.mark.parametrize("msg_type, name", FIELDS, ids=[f"{t}.{n}" for t, n in FIELDS])
@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_wrong_type_in_each_field_is_named(msg_type, name, data):
    spec = SPECS[msg_type][name]
    obj = {"type": msg_type, "roomName": "r", "displayName": "A", "knockId": "k", "message": "m", "locked": True,
           "participantId": "p", "kind": "audio", "muted": True, "minutes": 5, "text": "t", "sdp": "v=0",
           "pc": "publish"}
    obj[name] = data.draw(_wrong_for(spec))
    with pytest.raises(InvalidField) as exc:
        parse(obj)
    assert exc.value.extra.get("field") == name


# --- SDP ------------------------------------------------------------------------------

SECTION = ("m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na=sendonly\r\n"
           "a=msid:stream t-{mid}\r\na=rtpmap:{pt} {codec}\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
           "a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=rtcp-mux\r\n")
OFFER = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
         + SECTION.format(kind="audio", pt=111, mid="0", codec="opus/48000/2")
         + SECTION.format(kind="video", pt=96, mid="1", codec="VP8/90000"))
ALL = frozenset({"canPublishAudio", "canPublishVideo", "canShareScreen"})


def offer_outcome(text: str) -> None:
    try:
        sdp_limits.check_publish_offer(text)
    except SignalingError:
        pass
    try:
        description = parse_offer(text)
        assign_sources(description, {"1": "camera"}, ALL, ("VP8", "H264"))
    except (BadDescription, NotAllowed) as err:
        assert str(err)


@given(st.text(max_size=400))
def test_any_text_as_an_offer(text):
    offer_outcome(text)


LINES = OFFER.split("\r\n")


@given(st.lists(st.tuples(st.integers(0, len(LINES) - 1), st.sampled_from(["drop", "dup", "cut", "junk", "number"]),
                          st.text(max_size=12) | st.sampled_from(["²", "١٢", "99999999999999999999", "-1", ":"])),
                max_size=6))
@example([(4, "number", "²")])           # m=audio ² ...: isdigit() but not int() (found here, fixed)
@example([(4, "number", "9" * 5000)])
def test_mutated_offers(mutations):
    lines = list(LINES)
    for index, how, junk in mutations:
        index %= len(lines)
        if how == "drop":
            del lines[index]
        elif how == "dup":
            lines.insert(index, lines[index])
        elif how == "cut":
            lines[index] = lines[index][: len(junk)]
        elif how == "junk":
            lines[index] = lines[index][:2] + junk
        else:                         # a number where the line has one
            lines[index] = " ".join(junk if p.isdigit() else p for p in lines[index].split(" "))
        if not lines:
            break
    offer_outcome("\r\n".join(lines))


# --- query parameters ------------------------------------------------------------------

query_text = st.text(max_size=30) | st.sampled_from(["²", "١٢", "9" * 5000, "-1", "0", "1e3", " 5", "NaN", "%", "+"])


def request(params: dict[str, str], headers: dict[str, str] | None = None):
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    return make_mocked_request("GET", f"/api/v1/rooms?{qs}", headers=headers or {})


def refused_or(fn, *args):
    try:
        return fn(*args)
    except ApiError as err:
        body = err.body()
        assert err.status < 500 and body["code"] and body["message"]
    except TextError as err:
        assert err.field and err.message
    except LinkError:
        pass
    return None


NAMES = ["maxItems", "limit", "expiresIn", "validForSeconds", "sortOrder", "status", "roomName",
         "roomNameMatchMode", "roomNameCaseInsensitive", "recordingIds", "fields", "extraFields", "nextPageToken"]


@given(st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8), query_text, max_size=6),
       st.dictionaries(st.sampled_from(["X-Fields", "X-Room-Key", "Authorization"]),
                       st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20), max_size=2))
def test_query_parameters(params, headers):
    try:
        req = request(params, headers)
    except ValueError:
        assume(False)
    value = refused_or(q.int_param, req, "maxItems", 10, 100)
    assert value is None or 1 <= value <= 100
    refused_or(q.int_param, req, "limit", 50, 100, )
    refused_or(q.choice, req, "sortOrder", ("asc", "desc"), "desc")
    refused_or(q.room_name_filter, req)
    refused_or(q.id_list, req, "recordingIds", "recording", 50)
    refused_or(q.projection, req, ("roomId", "roomName"), ("config",))
    refused_or(q.check_query, req)
    size = refused_or(clamped_max_items, req)
    assert size is None or 1 <= size <= 100
    size = refused_or(page_size, req)
    assert size is None or 1 <= size <= 100
    refused_or(verify, b"secret", "rec", 0, params.get("expiresIn"), params.get("validForSeconds"), 0.0)


@given(query_text)
def test_decimal_reads_only_ascii_digits(raw):
    value = q.decimal(raw)
    if value is not None:
        assert raw.isascii() and raw.isdigit() and value == int(raw) and len(raw) <= 12
