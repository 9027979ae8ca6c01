"""Frame encoding: JSON text frames by default, msgpack binary frames on request. Pure."""

from __future__ import annotations

import json
from typing import Any

import msgpack

from .errors import BadMessage, MessageTooLarge

MSGPACK_SUBPROTOCOL = "antechamber.msgpack"


class Codec:
    """Encodes outgoing messages for one connection and decodes any incoming frame."""

    def __init__(self, binary: bool, max_bytes: int):
        self.binary = binary
        self.max_bytes = max_bytes

    @property
    def name(self) -> str:
        return "msgpack" if self.binary else "json"

    def encode(self, message: dict[str, Any]) -> str | bytes:
        if self.binary:
            return msgpack.packb(message, use_bin_type=True)
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)

    def decode_text(self, text: str) -> Any:
        if len(text) > self.max_bytes or len(text.encode("utf-8", "replace")) > self.max_bytes:
            raise MessageTooLarge(f"a message may be at most {self.max_bytes} bytes")
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise BadMessage("the text frame is not valid JSON") from None

    def decode_binary(self, data: bytes) -> Any:
        if len(data) > self.max_bytes:
            raise MessageTooLarge(f"a message may be at most {self.max_bytes} bytes")
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception:  # msgpack raises many kinds (ExtraData, FormatError, ValueError...)
            raise BadMessage("the binary frame is not valid msgpack") from None
