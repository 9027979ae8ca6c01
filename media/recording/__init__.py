"""Recording: a subscriber that muxes encoded frames into one Matroska/WebM file with PyAV."""

from .codecs import codec_info, container_for, extension_for
from .merge import FileInfo, find_parts, probe, recover
from .muxer import MuxResult, RecordingMuxer

__all__ = [
    "FileInfo", "MuxResult", "RecordingMuxer", "codec_info", "container_for", "extension_for",
    "find_parts", "probe", "recover",
]
