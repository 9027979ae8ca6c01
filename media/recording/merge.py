"""Joining part files into one recording, and reading back what a file holds.

Part 0 of a recording is its final path; part k > 0 is ``<stem>.part<k><ext>``.
Joining copies packets (no decoding) into a new file, matching streams across
parts by their ANTECHAMBER_TRACK tag, then replaces part 0 atomically. A part
cut short by a crash is read up to where it ends.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .interleave import StallGuard

TRACK_TAG = "ANTECHAMBER_TRACK"
MS = Fraction(1, 1000)
_PART_RE = re.compile(r"\.part(\d+)$")


def part_path(final_path: Path, index: int) -> Path:
    final_path = Path(final_path)
    if index == 0:
        return final_path
    return final_path.with_name(f"{final_path.stem}.part{index}{final_path.suffix}")


def find_parts(final_path: Path) -> list[Path]:
    """Existing parts of a recording, in order (part 0 first, if present)."""
    final_path = Path(final_path)
    found: list[tuple[int, Path]] = []
    if final_path.exists():
        found.append((0, final_path))
    for p in final_path.parent.glob(f"{final_path.stem}.part*{final_path.suffix}"):
        m = _PART_RE.search(p.name[: len(p.name) - len(final_path.suffix)])
        if m and int(m.group(1)) > 0:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _tag(stream) -> str:
    return stream.metadata.get(TRACK_TAG) or stream.metadata.get(TRACK_TAG.lower()) or f"#{stream.index}"


def _no_picture(packet) -> bool:
    """An H.264 packet (length-prefixed, as Matroska stores it) with no slice in it: the
    parameter-set filler a part may start with (see interleave.StallGuard)."""
    data = bytes(packet)
    i = 0
    while i + 5 <= len(data):
        size = int.from_bytes(data[i:i + 4], "big")
        if 1 <= data[i + 4] & 0x1F <= 5:
            return False
        i += 4 + size
    return True


def merge_parts(parts: list[Path], final_path: Path, container: str = "matroska") -> None:
    """Copy the packets of every part, in order, into final_path; delete the parts."""
    final_path = Path(final_path)
    tmp = final_path.with_name(f"{final_path.stem}.merging{final_path.suffix}")
    inputs = []
    try:
        for p in parts:
            try:
                inputs.append(av.open(str(p)))
            except (av.FFmpegError, OSError):
                continue  # a part cut off before its header: nothing to keep
        out = av.open(str(tmp), "w", format=container)
        streams: dict[str, av.stream.Stream] = {}
        for inp in inputs:
            for s in inp.streams:
                if s.type in ("audio", "video") and _tag(s) not in streams:
                    o = out.add_stream_from_template(s, opaque=True)
                    o.metadata.update({k: v for k, v in s.metadata.items() if k.upper() != "DURATION"})
                    o.metadata[TRACK_TAG] = _tag(s)
                    streams[_tag(s)] = o
        if not streams:
            out.close()
            tmp.unlink(missing_ok=True)
            raise ValueError("no readable part to join")
        h264 = {tag for tag, o in streams.items() if o.codec_context and o.codec_context.name == "h264"}
        guard = StallGuard()
        for inp in inputs:
            mapping = {s.index: _tag(s) for s in inp.streams if _tag(s) in streams}
            try:
                for packet in inp.demux():
                    tag = mapping.get(packet.stream_index)
                    if tag is None or packet.size == 0 or packet.dts is None:
                        continue
                    if tag in h264 and _no_picture(packet):
                        continue
                    ms = int(packet.dts * packet.time_base * 1000)
                    guard.fill(out, {k: v for k, v in streams.items() if k != tag}, ms)
                    ts = guard.dts_for(tag, ms)
                    pts_ms = int(packet.pts * packet.time_base * 1000) if packet.pts is not None else ts
                    packet.stream = streams[tag]
                    packet.time_base = MS
                    packet.dts = ts
                    packet.pts = max(pts_ms, ts)
                    out.mux_one(packet)
            except (av.FFmpegError, EOFError):
                pass  # truncated part: keep what was readable
        out.close()
    finally:
        for inp in inputs:
            inp.close()
    os.replace(tmp, final_path)
    for p in parts:
        if Path(p) != final_path:
            Path(p).unlink(missing_ok=True)


@dataclass
class FileInfo:
    duration: float = 0.0
    size: int = 0
    finalized: bool = False
    streams: list[dict] = field(default_factory=list)


def _vint(buf: bytes, pos: int) -> tuple[int, int, bool]:
    """EBML variable-size integer at pos: (value, length, is 'unknown size')."""
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(buf):
        raise ValueError("bad EBML size")
    value = first & (0xFF >> length)
    for b in buf[pos + 1: pos + length]:
        value = (value << 8) | b
    return value, length, value == (1 << (7 * length)) - 1


def segment_complete(path: Path) -> bool:
    """True if the Matroska Segment's size was written and the file holds all of it:
    the muxer fills the size in only when it writes its trailer."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        total = fh.seek(0, os.SEEK_END)
    try:
        if head[:4] != b"\x1a\x45\xdf\xa3":
            return False
        size, n, _ = _vint(head, 4)
        pos = 4 + n + size
        if head[pos:pos + 4] != b"\x18\x53\x80\x67":
            return False
        size, n, unknown = _vint(head, pos + 4)
        return not unknown and pos + 4 + n + size <= total
    except (ValueError, IndexError):
        return False


def probe(path: Path) -> FileInfo:
    """Duration, size and streams of a recording file, even one cut short by a crash."""
    path = Path(path)
    info = FileInfo(size=path.stat().st_size)
    with av.open(str(path)) as inp:
        info.finalized = bool(inp.streams) and segment_complete(path)
        info.streams = [
            {"trackId": _tag(s), "kind": s.type, "codec": s.codec_context.name if s.codec_context else "",
             "label": s.metadata.get("title", "")}
            for s in inp.streams
        ]
        if info.finalized and inp.duration:
            info.duration = inp.duration / 1_000_000
            return info
        end = 0.0
        try:
            for packet in inp.demux():
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except (av.FFmpegError, EOFError):
            pass
        info.duration = end
    return info


def recover(final_path: Path, container: str = "matroska") -> FileInfo | None:
    """After a crash: join whatever parts exist and describe the result (None if no file)."""
    parts = find_parts(final_path)
    if not parts:
        return None
    if len(parts) == 1 and parts[0] == Path(final_path):
        return probe(Path(final_path))
    merge_parts(parts, Path(final_path), container)
    info = probe(Path(final_path))
    info.finalized = False  # the crash came before the parts were joined
    return info
