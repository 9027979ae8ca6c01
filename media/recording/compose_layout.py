"""Where each participant's tile goes in a composed recording, and how a tile is drawn.

Pure geometry plus numpy/Pillow drawing, used by compose.py (docs/recording.md "Composed MP4"):

* no screen share: a grid of equal tiles (columns = ceil(sqrt(n))), 16:9-ish, centred;
* a screen share: the screen large on the left (three quarters of the width), the
  participants in a column on the right;
* every tile carries its participant's name (bottom left); the active speaker's tile
  gets a coloured border; a participant without a picture (camera off, audio only)
  shows a plain tile with the name in the middle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (18, 18, 22)
TILE = (44, 46, 54)
SPEAKER = (255, 196, 0)
GAP = 8
BORDER = 5


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def _even(v: float) -> int:
    return max(2, int(v) // 2 * 2)


def grid(n: int, width: int, height: int, x0: int = 0, y0: int = 0) -> list[Rect]:
    """n equal tiles filling (x0, y0, width, height) row by row, the last row centred."""
    if n <= 0:
        return []
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tw = _even((width - GAP * (cols + 1)) / cols)
    th = _even((height - GAP * (rows + 1)) / rows)
    out: list[Rect] = []
    for i in range(n):
        r, c = divmod(i, cols)
        in_row = min(cols, n - r * cols)
        left = x0 + (width - in_row * tw - (in_row - 1) * GAP) // 2
        top = y0 + (height - rows * th - (rows - 1) * GAP) // 2
        out.append(Rect(left + c * (tw + GAP), top + r * (th + GAP), tw, th))
    return out


def layout(people: list[str], screen: str | None, width: int, height: int) -> dict[str, Rect]:
    """Tile of each participant (in the order given) and, under the key ``screen``'s value, of the
    shared screen."""
    if screen is None:
        return dict(zip(people, grid(len(people), width, height)))
    side = _even(width * 0.25) if people else 0
    tiles = {screen: Rect(GAP, GAP, _even(width - side - 2 * GAP - (GAP if people else 0)), _even(height - 2 * GAP))}
    if people:
        x0 = width - side - GAP
        th = _even(min((height - GAP * (len(people) + 1)) / len(people), side * 9 / 16))
        top = (height - len(people) * th - (len(people) - 1) * GAP) // 2
        for i, pid in enumerate(people):
            tiles[pid] = Rect(x0, top + i * (th + GAP), side, th)
    return tiles


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=256)
def label(text: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A name plate (rgb, alpha in 0..1) about ``height`` pixels high: white text on a dark box."""
    font = _font(max(10, int(height * 0.62)))
    left, top, right, bottom = font.getbbox(text or " ")
    pad = max(3, height // 5)
    w, h = right - left + 2 * pad, height
    img = Image.new("RGBA", (w, h), (0, 0, 0, 150))
    ImageDraw.Draw(img).text((pad - left, (h - (bottom - top)) // 2 - top), text, font=font,
                             fill=(255, 255, 255, 255))
    arr = np.asarray(img, dtype=np.float32)
    return arr[..., :3], arr[..., 3:] / 255.0


def paste_label(canvas: np.ndarray, text: str, rect: Rect, *, centre: bool = False) -> None:
    height = max(14, min(32, rect.h // 8))
    rgb, alpha = label(text, height)
    w = min(rgb.shape[1], rect.w - 2 * BORDER)
    if w <= 0 or height >= rect.h:
        return
    if centre:
        x, y = rect.x + (rect.w - w) // 2, rect.y + (rect.h - height) // 2
    else:
        x, y = rect.x + BORDER + 4, rect.y + rect.h - height - BORDER - 4
    region = canvas[y:y + height, x:x + w].astype(np.float32)
    a = alpha[:, :w]
    canvas[y:y + height, x:x + w] = (rgb[:, :w] * a + region * (1 - a)).astype(np.uint8)


def fill(canvas: np.ndarray, rect: Rect, colour: tuple[int, int, int]) -> None:
    canvas[rect.y:rect.y + rect.h, rect.x:rect.x + rect.w] = colour


def picture(canvas: np.ndarray, rect: Rect, frame: av.VideoFrame, *, cover: bool) -> None:
    """The frame scaled into the tile: ``cover`` fills it (cropping the overflow, for faces),
    else it fits whole (letterboxed, for a shared screen)."""
    fw, fh = frame.width or 1, frame.height or 1
    scale = (max if cover else min)(rect.w / fw, rect.h / fh)
    sw, sh = _even(fw * scale), _even(fh * scale)
    img = frame.reformat(width=sw, height=sh, format="rgb24").to_ndarray()
    # the part of the scaled picture inside the tile, centred
    cw, ch = min(sw, rect.w), min(sh, rect.h)
    sx, sy = (sw - cw) // 2, (sh - ch) // 2
    dx, dy = rect.x + (rect.w - cw) // 2, rect.y + (rect.h - ch) // 2
    canvas[dy:dy + ch, dx:dx + cw] = img[sy:sy + ch, sx:sx + cw]


def border(canvas: np.ndarray, rect: Rect, colour: tuple[int, int, int] = SPEAKER) -> None:
    b = BORDER
    canvas[rect.y:rect.y + b, rect.x:rect.x + rect.w] = colour
    canvas[rect.y + rect.h - b:rect.y + rect.h, rect.x:rect.x + rect.w] = colour
    canvas[rect.y:rect.y + rect.h, rect.x:rect.x + b] = colour
    canvas[rect.y:rect.y + rect.h, rect.x + rect.w - b:rect.x + rect.w] = colour
