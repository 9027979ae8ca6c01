"""The webhook outbox's records (docs/webhooks.md, docs/architecture.md "Stores and writes").

A ``Delivery`` is one event for one endpoint: its body (rendered in the endpoint's format when the
event happened, without signature: that is made at each send), its place in the endpoint's sequence
for the room (``seq``: 1, 2, 3... per (endpoint, room), kept by the store), its status and the log of
its attempts. No secret is ever part of a delivery.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

DeliveryStatus = Literal["pending", "delivered", "failed"]
STATUSES = ("pending", "delivered", "failed")
MAX_LOGGED_ATTEMPTS = 20


@dataclass
class Delivery:
    delivery_id: str
    event_id: str
    endpoint_id: str
    room_id: str
    type: str                         # the event's type name in the endpoint's format
    format: str                       # whereby | openvidu
    body: dict[str, Any] = field(default_factory=dict)
    seq: int = 0                      # set by the store when the delivery is appended
    status: str = "pending"
    next_at: int = 0                  # epoch ms: not sent before
    created_at: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)   # {at, responseCode, latencyMs, error}
    replay_of: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Delivery":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass(frozen=True)
class DeliveryQuery:
    room_id: str | None = None
    type: str | None = None
    status: str | None = None
    limit: int = 20
    token: str | None = None
