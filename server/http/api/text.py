"""Is a string from outside acceptable text? Pure; the REST edge's one check.

``check(value, field)`` returns ``value`` unchanged, or raises ``TextError``
(a ``ValueError`` carrying ``field``, a human ``message`` and a ``reason``) when
the string holds

- a lone surrogate (U+D800–U+DFFF: not a Unicode scalar value, it cannot be
  encoded as UTF-8 and crashes the stores' encoders) — reason ``surrogate``;
- a control character: C0 (U+0000–U+001F, tab and newline included), DEL and
  C1 (U+007F–U+009F), or a line/paragraph separator (U+2028/U+2029) — ``control``;
- a bidirectional embedding/override/isolate control (U+202A–U+202E,
  U+2066–U+2069) — ``bidi``;
- a noncharacter (U+FDD0–U+FDEF, U+xxFFFE/U+xxFFFF) — ``noncharacter``.

The rules are those of signaling/text.py's ``check_text`` (without its
``allow``), so text the REST API accepts is text the websocket accepts. Messages
never repeat the offending value, only its code point (``U+XXXX``).
"""

from __future__ import annotations

import re

_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
_FORBIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}{_NONCHARACTERS}\ud800-\udfff]")


class TextError(ValueError):
    """A string from outside was refused: ``field`` names it, ``message`` says why (human, safe to
    show), ``reason`` is one of surrogate, control, bidi, noncharacter (and ``encoding``, from
    server/http/api/query.py: percent-encoded or header bytes that are not UTF-8)."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


def _why(ch: str) -> tuple[str, str]:
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:
        return "surrogate", f"a lone surrogate (U+{cp:04X}, not valid Unicode)"
    if ch in _BIDI_CONTROLS:
        return "bidi", f"a bidirectional control character (U+{cp:04X})"
    if ch in "\u2028\u2029":
        return "control", f"a line separator (U+{cp:04X})"
    if cp < 0xA0:
        return "control", f"a control character (U+{cp:04X})"
    return "noncharacter", f"a noncharacter (U+{cp:04X})"


def check(value: str, field: str) -> str:
    """``value`` unchanged if it is acceptable text, else ``TextError`` naming ``field``."""
    if value.isascii() and value.isprintable():     # the common case, fast
        return value
    found = _FORBIDDEN.search(value)
    if found is None:
        return value
    reason, what = _why(found.group())
    raise TextError(field, f"contains {what} at position {found.start()}", reason)
