"""What a client's publish offer may hold: media sections and published tracks. Pure.

docs/protocol.md "Limits": a publish offer has at most ``MAX_MEDIA_SECTIONS`` m-lines and at most
``MAX_PUBLISHED_TRACKS`` of them sending (one per source: microphone, camera, screen); its size is
bounded by its field (``protocol.MAX_PUBLISH_SDP_BYTES``). Subscribe answers mirror the server's own
offer and are not counted here.
"""

from __future__ import annotations

from ..errors import TooManyMediaSections, TooManyTracks

MAX_MEDIA_SECTIONS = 16
MAX_PUBLISHED_TRACKS = 3
_SENDING = ("sendrecv", "sendonly")


def sections(sdp: str) -> list[tuple[str, int, str]]:
    """(media, port, direction) of each m-line; the direction defaults to sendrecv."""
    out: list[list] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            raw = parts[1].split("/")[0] if len(parts) > 1 else ""
            port = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 5 else 0   # not "²" (int refuses it)
            out.append([parts[0] if parts else "", port, "sendrecv"])
        elif out and line.startswith("a=") and line[2:].strip() in ("sendrecv", "sendonly", "recvonly", "inactive"):
            out[-1][2] = line[2:].strip()
    return [(m, p, d) for m, p, d in out]


def check_publish_offer(sdp: str) -> None:
    """TooManyMediaSections / TooManyTracks when the offer is beyond the limits."""
    found = sections(sdp)
    if len(found) > MAX_MEDIA_SECTIONS:
        raise TooManyMediaSections(f"a publish offer has at most {MAX_MEDIA_SECTIONS} media sections",
                                   field="sdp")
    sending = sum(1 for media, port, direction in found
                  if media in ("audio", "video") and port != 0 and direction in _SENDING)
    if sending > MAX_PUBLISHED_TRACKS:
        raise TooManyTracks(f"at most {MAX_PUBLISHED_TRACKS} published tracks per participant", field="sdp")
