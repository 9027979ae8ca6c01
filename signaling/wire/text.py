"""Checking and normalising text that comes from outside (websocket frames; REST may reuse it). Pure.

Every string a client sends goes through one of these before anything else
sees it (``protocol.parse`` applies them per field; docs/protocol.md, "Text"):

- ``check_text(value, field)``: the value is returned unchanged, or
  ``TextError`` (a ``ValueError`` carrying ``field``) when it holds a lone
  surrogate (not Unicode text: it cannot be encoded as UTF-8), a C0/C1 control
  character (``allow`` may let some through, e.g. ``"\\r\\n\\t"`` for SDP), a
  line/paragraph separator (U+2028/U+2029), a bidirectional
  embedding/override/isolate control (U+202A–U+202E, U+2066–U+2069) or a
  noncharacter (U+FDD0–U+FDEF, U+xxFFFE/U+xxFFFF).
- ``clean_chat(value)``: chat text. Lone surrogates are refused; controls other
  than ``\\n`` and ``\\t`` (``\\r\\n`` and ``\\r`` become ``\\n``), bidi
  embedding/override/isolate controls and noncharacters are removed.
- ``normalize_display_name(value)``: what a display name becomes before it is
  shown or compared (see its docstring); 1–64 characters afterwards.
- ``name_skeleton(name)``: the case- and decoration-insensitive form two names
  are compared by (the knock cooldown).

Messages never repeat the offending value (only its code point, as ``U+XXXX``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_DISPLAY_NAME = 64           # characters, after normalisation
MAX_DISPLAY_NAME_RAW = 256      # characters as sent, before normalisation

LINE_BREAKS = "\r\n\t"          # what `allow` lets through for SDP / ICE candidates


class TextError(ValueError):
    """A string from outside was refused. ``field`` names it, ``reason`` is one of
    not_string, surrogate, control, bidi, noncharacter, empty, too_long."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_MARKS = "\u200e\u200f\u061c"
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
_SURROGATES = "\ud800-\udfff"
_CONTROLS = "".join(map(chr, (*range(0x00, 0x20), *range(0x7F, 0xA0))))


@lru_cache(maxsize=16)
def _forbidden(allow: str) -> re.Pattern[str]:
    """Everything check_text refuses, but the controls in ``allow``."""
    controls = "".join(ch for ch in _CONTROLS if ch not in allow)
    return re.compile(f"[{re.escape(controls)}\u2028\u2029{_BIDI_CONTROLS}{_NONCHARACTERS}{_SURROGATES}]")


_SURROGATE = re.compile(f"[{_SURROGATES}]")
# what clean_chat removes (after \r\n / \r became \n)
_CHAT_STRIP = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_CONTROLS}{_NONCHARACTERS}]")
_CHAT_CR = re.compile("\r\n?")
_WHITESPACE = re.compile(r"\s+")
# invisible characters that are not format characters (Cf) but are used as blank names:
# combining grapheme joiner, Mongolian variation selectors, Hangul fillers
_INVISIBLE_EXTRA = frozenset("\u034f\u180b\u180c\u180d\u180f\u115f\u1160\u3164\uffa0")


def _describe(ch: str) -> str:
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:
        return f"a lone surrogate (U+{cp:04X}, not valid Unicode)"
    if ch in _BIDI_CONTROLS:
        return f"a bidirectional control character (U+{cp:04X})"
    if ch in "\u2028\u2029":
        return f"a line separator (U+{cp:04X})"
    if unicodedata.category(ch) == "Cc":
        return f"a control character (U+{cp:04X})"
    return f"a noncharacter (U+{cp:04X})"


def _reason(ch: str) -> str:
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:
        return "surrogate"
    if ch in _BIDI_CONTROLS:
        return "bidi"
    if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
        return "control"
    return "noncharacter"


def _refuse(field: str, value: str, index: int) -> TextError:
    ch = value[index]
    return TextError(field, f"{field} contains {_describe(ch)} at position {index}", _reason(ch))


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise TextError(field, f"{field} must be a string", "not_string")
    return value


def check_text(value: str, field: str, *, allow: str = "") -> str:
    """``value`` unchanged if it is acceptable text, else ``TextError`` naming ``field``.

    ``allow``: control characters that are acceptable in this field (e.g. ``LINE_BREAKS``)."""
    _require_str(value, field)
    if value.isascii() and value.isprintable():      # the common case, fast
        return value
    found = _forbidden(allow).search(value)
    if found is not None:
        raise _refuse(field, value, found.start())
    return value


def clean_chat(value: str, field: str = "text") -> str:
    """Chat text as it is relayed: lone surrogates refused; ``\\r\\n``/``\\r`` become ``\\n``;
    other controls except ``\\n``/``\\t``, bidi embedding/override/isolate controls and
    noncharacters removed. May return ``""`` (the caller decides whether that is allowed)."""
    _require_str(value, field)
    if value.isascii() and value.isprintable():
        return value
    found = _SURROGATE.search(value)
    if found is not None:
        raise _refuse(field, value, found.start())
    return _CHAT_STRIP.sub("", _CHAT_CR.sub("\n", value))


def _is_invisible(ch: str) -> bool:
    if ch in _INVISIBLE_EXTRA:
        return True
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cf", "Cs"):     # controls, format characters (zero-width, bidi, soft hyphen, tags)
        return True
    cp = ord(ch)
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def _name_pass(value: str) -> str:
    value = _WHITESPACE.sub(" ", value)    # tabs, newlines, NBSP, ideographic space... -> one space
    value = "".join(ch for ch in value if not _is_invisible(ch))
    value = unicodedata.normalize("NFKC", value)
    return _WHITESPACE.sub(" ", value).strip(" ")


def normalize_display_name(value: str, field: str = "displayName", max_len: int = MAX_DISPLAY_NAME) -> str:
    """A display name as it is shown and compared.

    Lone surrogates are refused; then whitespace (any Unicode space, tab, newline) becomes a
    space, invisible characters are removed (controls, format characters: zero-width
    space/joiners U+200B–U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen U+00AD, bidi
    marks and controls, tag characters; noncharacters; Hangul fillers, CGJ), the result is
    NFKC-normalised, runs of spaces collapse to one and the ends are trimmed. The result must
    be 1–``max_len`` characters (``TextError`` reason ``empty`` / ``too_long`` otherwise).
    At most ``MAX_DISPLAY_NAME_RAW`` characters are accepted as sent."""
    _require_str(value, field)
    if len(value) > MAX_DISPLAY_NAME_RAW:
        raise TextError(field, f"{field} is longer than {MAX_DISPLAY_NAME_RAW} characters as sent", "too_long")
    found = _SURROGATE.search(value)
    if found is not None:
        raise _refuse(field, value, found.start())
    name = _name_pass(value)
    for _ in range(3):       # removing characters can leave a string NFKC changes again
        again = _name_pass(name)
        if again == name:
            break
        name = again
    if not name:
        raise TextError(field, f"{field} must not be empty (after removing invisible characters)", "empty")
    if len(name) > max_len:
        raise TextError(field, f"{field} is longer than {max_len} characters", "too_long")
    return name


def name_skeleton(name: str) -> str:
    """The form two display names are compared by (knock cooldown): the normalised name
    (``normalize_display_name``; a name it refuses is used as is), case-folded, NFKD
    (so accents become separate marks), keeping only letters and digits
    ("Rex", "rex", " Rex ", "R\\u200bex", "Ｒｅｘ", "Rex.", "Réx" -> "rex"). A name with no
    letter or digit keeps its symbols (emoji), and one with neither its non-space characters."""
    try:
        name = normalize_display_name(name)
    except TextError:
        name = _SURROGATE.sub("\ufffd", name) if isinstance(name, str) else ""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    for keep in ("LN", "S"):
        kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] in keep)
        if kept:
            return kept
    return "".join(ch for ch in folded if not ch.isspace())
