"""Validate a publish offer before applying it: which m-line carries which
source, whether the participant may publish it, and whether a codec is usable.

Pure logic over aiortc's SDP parser (`aiortc_compat.parse_sdp`); raises
`BadDescription` / `NotAllowed`.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import aiortc_compat as compat
from .aiortc_compat import SessionDescription
from .ports import SOURCE_KIND, SOURCE_PERMISSION, BadDescription, NotAllowed

SENDING = ("sendrecv", "sendonly")


def parse_offer(text: str) -> SessionDescription:
    if not isinstance(text, str) or not text.strip():
        raise BadDescription("the offer is empty")
    try:
        description = compat.parse_sdp(_bundle_only_as_bundled(text))
    except Exception as exc:  # aiortc raises ValueError/KeyError/IndexError on garbage
        raise BadDescription(f"the offer is not valid SDP: {exc}") from None
    if not description.media:
        raise BadDescription("the offer has no media section")
    for media in description.media:
        if media.kind in ("audio", "video") and not media.rtp.muxId:
            raise BadDescription("every media section needs a mid")
    return description


def _bundle_only_as_bundled(text: str) -> str:
    """Firefox (max-bundle) offers each m-line after the first with port 0 and
    `a=bundle-only` (RFC 8843): bundled, not rejected. Give those a port here (only in
    the copy validated by `assign_sources`) so port 0 still means rejected."""
    head, *sections = text.split("\nm=")
    for i, section in enumerate(sections):
        kind, _, rest = section.partition(" ")
        if rest.startswith("0 ") and "\na=bundle-only" in section:
            sections[i] = f"{kind} 9 {rest[2:]}"
    return "\nm=".join([head, *sections])


def codec_allowed(mime: str, parameters: Mapping[str, object], video_codecs: tuple[str, ...]) -> bool:
    kind, _, name = mime.partition("/")
    name = name.lower()
    if kind == "audio":
        return name == "opus"
    if name == "rtx":
        return False
    if name not in {c.lower() for c in video_codecs}:
        return False
    if name == "h264":
        return str(parameters.get("packetization-mode", "0")) == "1"
    return name == "vp8"


def assign_sources(
    description: SessionDescription,
    labels: Mapping[str, str],
    allowed: frozenset[str],
    video_codecs: tuple[str, ...],
) -> dict[str, str]:
    """mid -> source for every m-line the client sends on.

    `labels` maps a mid or a msid track id to a source. Unlabelled audio is the
    microphone; a single unlabelled video is the camera.
    """
    result: dict[str, str] = {}
    unlabelled_video: list[str] = []
    for media in description.media:
        if media.kind not in ("audio", "video"):
            continue
        mid = media.rtp.muxId
        if (media.direction or "sendrecv") not in SENDING or media.port == 0:
            continue  # inactive / recvonly, or rejected (port 0): not published
        track_id = media.msid.split(" ")[-1] if media.msid else None
        source = labels.get(mid) or (labels.get(track_id) if track_id else None)
        if source is None:
            if media.kind == "audio":
                source = "microphone"
            else:
                unlabelled_video.append(mid)
                continue
        if source not in SOURCE_KIND:
            raise BadDescription(f"unknown source {source!r} for mid {mid}")
        if SOURCE_KIND[source] != media.kind:
            raise BadDescription(f"{source} must be {SOURCE_KIND[source]}, mid {mid} is {media.kind}")
        result[mid] = source
        _check_codecs(media, video_codecs)
    if len(unlabelled_video) > 1:
        raise BadDescription("several video tracks: label them camera / screen")
    for mid in unlabelled_video:
        if "camera" in result.values():
            raise BadDescription(f"label video mid {mid} (camera is taken)")
        result[mid] = "camera"
        _check_codecs(next(m for m in description.media if m.rtp.muxId == mid), video_codecs)
    seen: set[str] = set()
    for mid, source in result.items():
        if source in seen:
            raise BadDescription(f"{source} is published twice")
        seen.add(source)
        if SOURCE_PERMISSION[source] not in allowed:
            raise NotAllowed(f"not allowed to publish {source}")
    return result


def _check_codecs(media: Any, video_codecs: tuple[str, ...]) -> None:
    if not any(codec_allowed(c.mimeType, c.parameters, video_codecs) for c in media.rtp.codecs):
        wanted = "Opus" if media.kind == "audio" else " or ".join(video_codecs)
        raise BadDescription(f"mid {media.rtp.muxId}: no usable codec offered (need {wanted})")
