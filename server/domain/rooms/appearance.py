"""A room's colours for the room page, waiting view and end view (docs/embed.md "Branding").

Two sources, both kept in ``Room.theme`` (server/domain/rooms/theme.py):
- Whereby's theme tokens (``PUT /v1/rooms/{roomName}/theme/tokens``): ``primary`` (buttons and
  accents), ``secondary``, ``focus``;
- OpenVidu-style per-room colours in the native API (``PUT /api/v1/rooms/{roomId}/appearance``,
  Antechamber extension): ``background``, ``panel``, ``controls``, ``accent``, ``text`` and
  ``scheme`` (dark | light).

Every text the page draws on these colours must stay readable: WCAG 2.1 AA, a contrast ratio of
4.5:1 for normal text. The text on an accent or primary colour is white or near-black, whichever
reads better; the page's text colour (given, or the scheme's) must reach 4.5:1 on the background and
on the panels, or the theme is refused naming the pair.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Unprocessable

AA = 4.5
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
FIELDS = ("background", "panel", "controls", "accent", "text")
SCHEMES = {"dark": {"text": "#e9edf3", "background": "#101318", "panel": "#1d222b"},
           "light": {"text": "#1a1d23", "background": "#f5f6f8", "panel": "#ffffff"}}
LIGHT_TEXT, DARK_TEXT = "#ffffff", "#111418"


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(colour: str) -> str:
    """White or near-black: whichever reads better on ``colour`` (always above 4.5:1)."""
    return LIGHT_TEXT if contrast(LIGHT_TEXT, colour) >= contrast(DARK_TEXT, colour) else DARK_TEXT


def _refuse(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", code="theme_contrast_too_low" if "contrast" in message
                         else "validation_error", details=[{"field": field, "message": message}])


def parse(body: Any) -> dict[str, str]:
    """The stored form of an appearance body; refused (422 naming the field) unless every colour is
    ``#rrggbb`` and the text reaches WCAG AA on the background and the panels."""
    if not isinstance(body, dict):
        raise _refuse("body", "must be an object")
    unknown = sorted(set(body) - set(FIELDS) - {"scheme"})
    if unknown:
        raise _refuse(unknown[0], f"unknown field; allowed: scheme, {', '.join(FIELDS)}")
    scheme = body.get("scheme", "dark")
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise _refuse("scheme", "must be dark or light")
    out: dict[str, str] = {"scheme": scheme}
    for name in FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not HEX.match(value):
            raise _refuse(name, "must be a HEX colour like #1a2b3c")
        out[name] = value.lower()
    check(out)
    if "accent" in out and contrast(text_on(out["accent"]), out["accent"]) < AA:
        ratio = contrast(text_on(out["accent"]), out["accent"])
        raise _refuse("accent", f"contrast of any text on the accent {out['accent']} is {ratio:.2f}:1 at best; "
                                f"WCAG AA needs {AA}:1")
    return out


def check(colours: dict[str, str]) -> None:
    base = SCHEMES[colours.get("scheme", "dark")]
    text = colours.get("text", base["text"])
    for surface in ("background", "panel", "controls"):
        if surface not in colours and surface == "controls":
            continue
        value = colours.get(surface, base.get(surface, base["background"]))
        ratio = contrast(text, value)
        if ratio < AA:
            field = surface if surface in colours else "text"
            raise _refuse(field, f"contrast of the text {text} on the {surface} {value} is {ratio:.2f}:1; "
                                 f"WCAG AA needs {AA}:1")


def page_colours(theme: dict[str, Any]) -> dict[str, str]:
    """CSS custom properties for the room page from the stored theme (empty: the page's defaults)."""
    out: dict[str, str] = {}
    tokens = ((theme.get("tokens") or {}).get("colors")) or {}
    look = theme.get("appearance") or {}
    if look.get("scheme") == "light" or any(k in look for k in FIELDS):
        base = SCHEMES[look.get("scheme", "dark")]
        out.update({"--bg": look.get("background", base["background"]), "--panel": look.get("panel", base["panel"]),
                    "--bg-raised": look.get("panel", base["panel"]), "--text": look.get("text", base["text"])})
        if "controls" in look:
            out["--bg-sunken"] = look["controls"]
    accent = look.get("accent") or tokens.get("primary")
    if accent:
        out.update({"--accent": accent, "--accent-strong": accent, "--accent-text": text_on(accent)})
    if tokens.get("focus"):
        out["--focus"] = f"0 0 0 3px {tokens['focus']}"
    return out
