"""The client messages one hub accepts: each type's handler (state, permission, reply) and field spec.

Every ``Hub`` owns a ``MessageRegistry`` (``hub.messages``), started from the
built-in messages (``live.handlers.builtin_messages()``: the ``@handler`` table
and ``protocol.SPECS``). Extensions such as recording add theirs with
``hub.messages.register(...)`` on their own hub only, so two apps in one
process never share registrations. A handler is ``async fn(hub, participant,
request)`` (docs/architecture.md "Objects and ownership").

A message may require the sender's participant to be in a state (the states
of docs/protocol.md's join flow; the participant's life cycle is in
``live/participant.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Awaitable, Callable, Mapping

from .protocol import Field

# what a message requires of its sender
ANY, CONNECTED, KNOCKING, JOINED = "any", "connected", "knocking", "joined"

HandlerFn = Callable[[Any, Any, Any], Awaitable[Any]]    # async fn(hub, participant, request)


@dataclass(frozen=True)
class Handler:
    fn: HandlerFn
    state: str = JOINED          # any | connected | knocking | joined
    permission: str | None = None
    reply: bool = True           # False: the handler answers the request itself


class MessageRegistry:
    """Handlers and field specs by message type. Copies what it is given; never shared."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None,
                 specs: Mapping[str, Mapping[str, Field]] | None = None):
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._specs: dict[str, Mapping[str, Field]] = {
            t: MappingProxyType(dict(fields)) for t, fields in (specs or {}).items()}

    def register(self, msg_type: str, fn: HandlerFn, *, state: str = JOINED, permission: str | None = None,
                 reply: bool = True, fields: Mapping[str, Field] | None = None) -> None:
        """Add a client message: its handler and (optionally) its fields' spec (merged into an
        existing spec for that type)."""
        if fields is not None or msg_type not in self._specs:
            self._specs[msg_type] = MappingProxyType({**self._specs.get(msg_type, {}), **(fields or {})})
        self._handlers[msg_type] = Handler(fn, state, permission, reply)

    def get(self, msg_type: str) -> Handler | None:
        return self._handlers.get(msg_type)

    def spec(self, msg_type: str) -> Mapping[str, Field] | None:
        return self._specs.get(msg_type)

    def types(self) -> frozenset[str]:
        """The message types that have a handler."""
        return frozenset(self._handlers)
