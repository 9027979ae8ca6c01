"""The client messages one hub accepts: each type's handler (state, permission, reply) and field spec.

Every ``Hub`` owns a ``MessageRegistry`` (``hub.messages``), started from the
built-in messages (``handlers.builtin_messages()``: the ``@handler`` table,
``protocol.SPECS`` and the SFU's messages). Extensions such as recording add
theirs with ``hub.messages.register(...)`` on their own hub only, so two apps
in one process never share registrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from .protocol import Field, Request
from .session import JOINED, Session

if TYPE_CHECKING:
    from .hub import Hub

HandlerFn = Callable[["Hub", Session, Request], Awaitable[Any]]


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
