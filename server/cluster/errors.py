"""Errors of the cluster mechanics (docs/architecture.md "Seams for the cluster").

``Unreachable``: a node did not answer (no subscriber on its inbox, or no reply before the
timeout). ``RemoteError``: the node answered with an error ``{"error": code, "message": ...}``.
"""

from __future__ import annotations


class Unreachable(Exception):
    """The other node cannot be reached (gone, or no answer in time)."""


class RemoteError(Exception):
    """The other node answered a request with an error (a stable ``code`` and a ``message``)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
