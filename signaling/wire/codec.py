"""Frame encoding: JSON text frames by default, msgpack binary frames on request. Pure.

``encode`` raises ``EncodeError`` (a ValueError) for a message that cannot be
sent (a string that is not valid Unicode, a value neither codec knows): the
writer drops that one message and the connection goes on (transport/websocket.py).
Decoding is strict: invalid UTF-8 in a msgpack string is a ``bad_message``.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from ..errors import BadMessage, MessageTooLarge

MSGPACK_SUBPROTOCOL = "antechamber.msgpack"


class EncodeError(ValueError):
    """An outgoing message this codec cannot encode (never carries the message's content)."""


class Codec:
    """Encodes outgoing messages for one connection and decodes any incoming frame."""

    def __init__(self, binary: bool, max_bytes: int):
        self.binary = binary
        self.max_bytes = max_bytes
        self.name = "msgpack" if binary else "json"   # a broadcast reads it once per recipient

    def encode(self, message: dict[str, Any]) -> str | bytes:
        """The frame for ``message``: bytes (msgpack) or a str that is valid UTF-8 (JSON)."""
        try:
            if self.binary:
                return msgpack.packb(message, use_bin_type=True, unicode_errors="strict")
            frame = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
            if not frame.isascii():
                frame.encode("utf-8")      # a lone surrogate would fail later, in send_str
            return frame
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise EncodeError(f"cannot encode as {self.name}: {type(exc).__name__}") from None

    def encode_with_list(self, message: dict[str, Any], key: str, parts: list[Any]) -> str | bytes:
        """The frame for ``message`` with ``key`` (not in it) set to a list of items already encoded
        with this codec (``parts``): joined, not encoded again (a ``joined``'s roster of N entries,
        each encoded once per participant: signaling/live/participant.py ``public_frame``; a merged
        roster frame: wire/merge.py)."""
        if not self.binary:
            head = self.encode(message)
            return "".join((head[:-1], "," if message else "", json.dumps(key, ensure_ascii=False), ":[",
                            ",".join(parts), "]}"))
        try:
            packer = msgpack.Packer(use_bin_type=True, unicode_errors="strict")
            out = [packer.pack_map_header(len(message) + 1)]
            for k, v in message.items():
                out += (packer.pack(k), packer.pack(v))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise EncodeError(f"cannot encode as {self.name}: {type(exc).__name__}") from None
        out += (packer.pack(key), packer.pack_array_header(len(parts)), *parts)
        return b"".join(out)

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
            # unicode_errors="strict": invalid UTF-8 raises (never surrogate-escaped into str)
            return msgpack.unpackb(data, raw=False, strict_map_key=True, unicode_errors="strict")
        except Exception:  # msgpack raises many kinds (ExtraData, FormatError, ValueError...)
            raise BadMessage("the binary frame is not valid msgpack") from None
