"""signaling/wire/text.py: what is refused, what is stripped, how names are normalised and compared (pure)."""

from __future__ import annotations

import json
import unicodedata

import msgpack
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from signaling.wire.codec import Codec, EncodeError
from signaling.errors import BadMessage, InvalidField, SignalingError
from signaling.live.hub import Hub
from signaling.wire.protocol import CHAT, LINES, NAME, SPECS, parse
from signaling.wire.text import (LINE_BREAKS, MAX_DISPLAY_NAME, TextError, check_text, clean_chat, name_skeleton,
                            normalize_display_name)

FAST = hsettings(max_examples=200, deadline=None, database=None)

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
NONCHARACTERS = ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0001ffff", "\U0010fffe", "\U0010ffff"]
CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]

# --- check_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ch, reason", [*((c, "control") for c in CONTROLS), ("\u2028", "control"),
                                        ("\u2029", "control"), *((c, "bidi") for c in BIDI_CONTROLS),
                                        *((c, "noncharacter") for c in NONCHARACTERS),
                                        *((c, "surrogate") for c in SURROGATES)])
def test_check_text_refuses_naming_the_field_and_the_code_point(ch, reason):
    with pytest.raises(TextError) as exc:
        check_text(f"ab{ch}secret", "knockId")
    err = exc.value
    assert isinstance(err, ValueError)
    assert (err.field, err.reason) == ("knockId", reason)
    assert err.message.startswith("knockId ") and "position 2" in err.message
    assert "secret" not in err.message and ch not in err.message
    assert f"U+{ord(ch):04X}" in err.message or reason == "surrogate"


@pytest.mark.parametrize("value", ["", "plain", "Zoë", "李小龍", "مرحبا\u200f", "😀👩\u200d💻", "a\u200bb",
                                   "\ufffd", "\U000f0000", "e\u0301", "tab-less"])
def test_check_text_lets_ordinary_text_through_unchanged(value):
    assert check_text(value, "f") is value


def test_line_breaks_only_where_allowed():
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n\ta=x\r\n"
    assert check_text(sdp, "sdp", allow=LINE_BREAKS) == sdp
    for bad in ("\x00", "\x0b", "\x85", "\u202e", "\ud800", "\ufffe"):
        with pytest.raises(TextError):
            check_text(sdp + bad, "sdp", allow=LINE_BREAKS)
    with pytest.raises(TextError):
        check_text(sdp, "sdp")


def test_check_text_needs_a_string():
    with pytest.raises(TextError) as exc:
        check_text(b"bytes", "f")   # type: ignore[arg-type]
    assert exc.value.reason == "not_string"


# --- chat ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, clean", [
    ("hello", "hello"),
    ("line 1\nline 2\ttabbed", "line 1\nline 2\ttabbed"),
    ("windows\r\nmac\rend", "windows\nmac\nend"),
    ("bell\x07 nul\x00 esc\x1b del\x7f c1\x85", "bell nul esc del c1"),
    ("\u202eevil\u202c and \u2066isolate\u2069", "evil and isolate"),
    ("rtl mark \u200f and zwj 👩\u200d💻 stay", "rtl mark \u200f and zwj 👩\u200d💻 stay"),
    ("non\ufffechar\U0010ffff", "nonchar"),
    ("\x00\u202e", ""),
])
def test_chat_is_cleaned(raw, clean):
    assert clean_chat(raw) == clean


def test_chat_refuses_lone_surrogates():
    with pytest.raises(TextError) as exc:
        clean_chat("hi \ud83d")
    assert (exc.value.field, exc.value.reason) == ("text", "surrogate")


# --- display names -------------------------------------------------------------------------------

NAMES = [
    ("Rex", "Rex"),
    ("  Rex  ", "Rex"),
    ("R\u200bex", "Rex"),                        # zero-width space
    ("Ｒｅｘ", "Rex"),                            # fullwidth (NFKC)
    ("Rex.", "Rex."),
    ("Ada\u00a0\u3000 Lovelace", "Ada Lovelace"),  # any space, collapsed
    ("A\tB\nC\r\nD", "A B C D"),
    ("\u202eevil\u202c", "evil"),                # bidi override
    ("\u2067Hana\u2069\u200e\u200f\u061c", "Hana"),  # isolate and marks
    ("e\u0301", "é"),                            # composed
    ("ﬁne ①", "fine 1"),                         # compatibility forms
    ("a\u00adb\ufeffc\u2060d\u200c\u200de", "abcde"),   # soft hyphen, BOM, word joiner, ZWNJ, ZWJ
    ("\u3164\u115fHana\u034f", "Hana"),          # Hangul fillers, CGJ
    ("👩\u200d💻 dev", "👩💻 dev"),
    ("a\x00b\x1bc\x85d", "abc d"),                # controls removed; NEL is a line break: a space
    ("a\ufffeb\ufdd0c", "abc"),                  # noncharacters
    ("x\U000e0041\U000e007fy", "xy"),            # tag characters
    ("Zoë", "Zoë"), ("李小龍", "李小龍"), ("مرحبا", "مرحبا"), ("Ñandú", "Ñandú"),
    ("x" * 64, "x" * 64),
    ("\u200b" * 100 + "Rex" + " " * 100, "Rex"),
]


@pytest.mark.parametrize("raw, name", NAMES)
def test_display_names_are_normalised(raw, name):
    assert normalize_display_name(raw) == name
    assert normalize_display_name(name) == name


@pytest.mark.parametrize("raw, reason", [
    ("\ud800evil", "surrogate"), ("evil\udfff", "surrogate"),
    ("", "empty"), ("   ", "empty"), ("\u200b\u2060\ufeff", "empty"), ("\u202e\u202c", "empty"), ("\x00", "empty"),
    ("x" * 65, "too_long"), ("ﷺ" * 4, "too_long"),    # NFKC expands U+FDFA to 18 characters
    ("\u200b" * 300 + "Rex", "too_long"),            # more than 256 characters as sent
])
def test_display_names_refused(raw, reason):
    with pytest.raises(TextError) as exc:
        normalize_display_name(raw)
    assert (exc.value.field, exc.value.reason) == ("displayName", reason)
    assert "evil" not in exc.value.message


def test_max_display_name_is_64():
    assert MAX_DISPLAY_NAME == 64


# --- the cooldown skeleton -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["Rex", "rex", " Rex ", "REX", "R\u200bex", "Ｒｅｘ", "Rex.", "R.e.x!", "R e x",
                                     "Réx", "Re\u0301x", "\u202eRex", "R\u00adex", "Rex\u0338"])
def test_variants_of_a_name_share_a_skeleton(variant):
    assert name_skeleton(variant) == name_skeleton("Rex") == "rex"


@pytest.mark.parametrize("a, b", [("Rex", "Rexa"), ("Ann", "Anna"), ("Rex", "Rex2"), ("🙂", "🎉"),
                                  ("李", "季"), ("...", "!!!")])
def test_different_names_have_different_skeletons(a, b):
    assert name_skeleton(a) != name_skeleton(b)


def test_symbol_only_names_keep_their_symbols():
    assert name_skeleton("🙂") == name_skeleton(" 🙂. ") == "🙂"
    assert name_skeleton("...") == "..."


# --- properties ----------------------------------------------------------------------------------

ODD = st.sampled_from([*CONTROLS, *BIDI_CONTROLS, *NONCHARACTERS, "\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad",
                       "\u200e", "\u3164", "\u2028", "\u00a0", "\u3000", "Ｒ", "ﬁ", "\u0301", "😀", "\U000e0041"])
TEXT = st.one_of(st.text(), st.lists(st.one_of(st.text(max_size=5), ODD), max_size=20).map("".join))
WITH_SURROGATES = st.lists(st.one_of(TEXT, st.integers(0xD800, 0xDFFF).map(chr)), max_size=5).map("".join)


@FAST
@given(TEXT)
def test_a_normalised_name_is_clean_stable_and_keeps_its_skeleton(raw):
    try:
        name = normalize_display_name(raw)
    except TextError as err:
        assert err.reason in ("empty", "too_long") and err.field == "displayName"
        return
    assert 1 <= len(name) <= 64
    assert name == name.strip(" ") and "  " not in name
    assert unicodedata.normalize("NFKC", name) == name
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name), ascii(name)
    assert not any(c.isspace() and c != " " for c in name)
    assert normalize_display_name(name) == name
    assert name_skeleton(name) == name_skeleton(raw)
    name.encode("utf-8")
    assert name_skeleton(name_skeleton(name)) == name_skeleton(name) or not name_skeleton(name).isalnum()


@FAST
@given(WITH_SURROGATES)
def test_every_checker_refuses_or_returns_encodable_text(raw):
    for fn in (lambda v: check_text(v, "f"), lambda v: check_text(v, "f", allow=LINE_BREAKS), clean_chat,
               normalize_display_name, name_skeleton):
        try:
            out = fn(raw)
        except TextError:
            continue
        out.encode("utf-8")      # never a lone surrogate
        json.dumps(out, ensure_ascii=False).encode("utf-8")
        msgpack.packb(out)


@FAST
@given(WITH_SURROGATES)
def test_chat_cleaning_is_idempotent_and_clean(raw):
    try:
        text = clean_chat(raw)
    except TextError as err:
        assert err.reason == "surrogate"
        return
    assert clean_chat(text) == text
    assert not any(c in BIDI_CONTROLS or (unicodedata.category(c) == "Cc" and c not in "\n\t") or c == "\r"
                   for c in text)


# --- parse applies the rules to every string of every message --------------------------------------

_HUB = Hub(None)      # the built-in and media messages (a hub's registry)
SPEC = _HUB.messages.spec


def _all_specs():
    return {t: SPEC(t) for t in sorted(_HUB.messages.types())}


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | WITH_SURROGATES,
                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(WITH_SURROGATES, kids, max_size=4),
                       max_leaves=6)


@hsettings(max_examples=100, deadline=None, database=None)
@given(st.sampled_from(sorted(_all_specs())), st.dictionaries(st.text(max_size=8), JSONISH, max_size=3), JSONISH)
def test_parse_never_fails_otherwise_than_with_a_signaling_error(msg_type, extra, value):
    specs = _all_specs()
    fields = list(specs[msg_type] or {}) + ["id", "type"]
    for name in fields:
        obj = {"type": msg_type, **extra, name: value}
        try:
            req = parse(obj, SPEC)
        except SignalingError:
            continue
        # whatever got through is clean text, ready for both codecs
        Codec(False, 1 << 20).encode({"type": req.type, "id": req.id, **req.data}).encode("utf-8")
        Codec(True, 1 << 20).encode({"type": req.type, "id": req.id, **req.data})


@pytest.mark.parametrize("msg_type", sorted(_all_specs()))
def test_every_string_field_of_every_message_refuses_a_lone_surrogate(msg_type):
    specs = _all_specs()
    for name, spec in (specs[msg_type] or {}).items():
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if str in kinds:
            bad: object = "ok\ud800"
        elif dict in kinds:
            bad = {"candidate": "ok\ud800"}
        elif list in kinds:
            bad = ["ok\ud800"]
        else:
            continue
        with pytest.raises(InvalidField) as exc:
            parse({"type": msg_type, name: bad}, SPEC)
        # (a missing required field may be named first: then the bad one alone)
        if exc.value.extra["field"] != name:
            only = {"type": msg_type, name: bad}
            for other, ospec in (specs[msg_type] or {}).items():
                if other != name and ospec.required:
                    only[other] = ospec.choices[0] if ospec.choices else (True if bool in (
                        ospec.kind if isinstance(ospec.kind, tuple) else (ospec.kind,)) else "x")
            with pytest.raises(InvalidField) as exc:
                parse(only, SPEC)
        assert exc.value.extra["field"] == name
    for name in ("id", "type"):
        with pytest.raises(InvalidField) as exc:
            parse({"type": msg_type, name: "x\udfff"} if name == "id" else {"type": msg_type + "\udfff"}, SPEC)
        assert exc.value.extra["field"] == name


def test_policies_of_the_built_in_and_media_fields():
    specs = _all_specs()
    assert specs["join"]["displayName"].text == NAME and specs["set_display_name"]["displayName"].text == NAME
    assert specs["chat"]["text"].text == CHAT
    assert specs["publish"]["sdp"].text == LINES and specs["subscribe_answer"]["sdp"].text == LINES
    assert specs["ice"]["candidate"].text == LINES
    assert SPECS["join"]["roomName"].text == "strict" and SPECS["join"]["resumeToken"].text == "strict"


def test_parse_normalises_names_and_chat_and_keeps_sdp_line_breaks():
    spec = SPEC
    assert parse({"type": "join", "roomName": "r", "displayName": " Ｒ\u200bex\u202e "}, spec)["displayName"] == "Rex"
    assert parse({"type": "chat", "text": "a\r\nb\x07"}, spec)["text"] == "a\nb"
    sdp = "v=0\r\ns=-\r\n"
    assert parse({"type": "publish", "sdp": sdp}, spec)["sdp"] == sdp
    cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    assert parse({"type": "ice", "pc": "publish", "candidate": cand}, spec)["candidate"] == cand
    with pytest.raises(InvalidField) as exc:
        parse({"type": "ice", "pc": "publish", "candidate": {"candidate": "x\x00"}}, spec)
    assert exc.value.extra["field"] == "candidate"
    deep: object = "x"
    for _ in range(10):
        deep = [deep]
    with pytest.raises(InvalidField):
        parse({"type": "publish", "sdp": sdp, "sources": {"0": deep}}, spec)


# --- codec ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [False, True])
def test_encoding_a_lone_surrogate_is_an_encode_error_without_content(binary):
    with pytest.raises(EncodeError) as exc:
        Codec(binary, 1024).encode({"type": "chat", "text": "secret\ud800"})
    assert isinstance(exc.value, ValueError) and "secret" not in str(exc.value)


def test_msgpack_with_invalid_utf8_is_a_bad_message():
    frame = msgpack.packb({"type": "ping", "id": "\ud800"}, unicode_errors="surrogatepass")
    with pytest.raises(BadMessage):
        Codec(True, 1024).decode_binary(frame)
    with pytest.raises(BadMessage):
        Codec(True, 1024).decode_binary(b"\x81\xa4type\xa2\xff\xfe")


def test_json_lone_surrogate_escapes_decode_then_parse_refuses():
    obj = Codec(False, 1024).decode_text('{"type":"ping","id":"\\ud800"}')
    assert obj["id"] == "\ud800"
    with pytest.raises(InvalidField):
        parse(obj)
