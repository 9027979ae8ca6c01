"""Reading recordings back with the ffmpeg command-line tools."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg_decode(path: Path) -> subprocess.CompletedProcess:
    """Decode every stream to nothing; errors land in stderr.

    ``-enc_time_base -1`` keeps the file's millisecond timestamps on the way out: with
    the default 1/30 s video time base, two frames 33 ms apart can round to one tick and
    ffmpeg's null muxer then reports "non monotonically increasing dts" (about its own
    output, not the file).
    """
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0", "-enc_time_base", "-1",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=60)
