"""Bytes on the wire of a webhook: the body's JSON text and the signature headers (docs/webhooks.md).

Both products' receivers verify ``HMAC-SHA256(secret, "<t>.<body>")`` where their examples rebuild the
body with ``JSON.stringify(parsed body)``: so the body is sent exactly as JSON.stringify writes it
(no spaces, non-ASCII as is, key order kept, integral numbers without a fraction).

- whereby: ``Whereby-Signature: t=<unix seconds>,v1=<hex>`` over ``"<t>.<body>"``
  (whereby/docs meeting-content-and-quality/insights-suite-and-api/webhooks.md, "Validating events").
- openvidu: ``X-Timestamp: <unix ms>`` and ``X-Signature: <hex>`` over ``"<X-Timestamp>.<body>"``
  (OpenVidu/openvidu-meet meet-ce/backend/src/services/openvidu-webhook.service.ts,
  ``generateWebhookSignature``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _plain(value: Any) -> Any:
    """Floats that are whole numbers as ints (JSON.stringify writes 3, Python 3.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def encode(body: dict[str, Any]) -> bytes:
    return _encode(_plain(body)).encode("utf-8")


def _hmac(secret: str, signed: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_headers(fmt: str, secret: str, raw: bytes, now_ms: int) -> dict[str, str]:
    """The headers that sign ``raw`` for a receiver of format ``fmt`` at time ``now_ms``."""
    if fmt == "openvidu":
        t = str(int(now_ms))
        return {"X-Timestamp": t, "X-Signature": _hmac(secret, t.encode() + b"." + raw)}
    t = str(int(now_ms) // 1000)
    return {"Whereby-Signature": f"t={t},v1={_hmac(secret, t.encode() + b'.' + raw)}"}

