"""Typed API errors, translated at the edge into a JSON body.

Body: {"error": <stable code>, "code": <stable code>, "message": <human text>,
"details": [{"field", "message"}]?}. Handlers raise; the middleware in
server/http/middleware.py renders. No stack trace ever reaches a client.

Text that is not acceptable (lone surrogates, invalid UTF-8 in a URL, control or
bidi control characters, noncharacters; signaling/wire/text.py) anywhere in a body,
path, query or credential header is a ``validation_error`` naming the field: 422
on the native API, 400 on the Whereby-compatible one (server/http/api/query.py
``text_refused``). The value itself is never repeated.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict[str, str]] | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


class RangeNotSatisfiable(ApiError):
    status, code = 416, "range_not_satisfiable"


class Unavailable(ApiError):
    """What the request needs (the store, the node owning a meeting) cannot be reached now: 503."""
    status, code = 503, "unavailable"
