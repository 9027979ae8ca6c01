"""Domain events of live rooms, for webhooks and metrics (Whereby-style names).

docs/architecture.md "Seams for the cluster".

``room.client.knocked``, ``room.client.knock_cancelled``, ``room.client.knock_decided``,
``room.client.joined``, ``room.client.resumed`` (same participant, new connection),
``room.client.left``, ``room.session.started``,
``room.session.ended`` (``reason``: last_participant_left, meeting_ended, room_deleted,
room_expired, max_duration, solo_timeout, end_date, ...), ``room.session.moved``
(``hub.hand_over``: the meeting goes on on another node; not an end),
``room.session.ending_soon`` (room_id, room_session_id, minutes_left, ends_at: the countdown,
5 and 1 minute before the deadline), ``room.session.extended`` (room_id, room_session_id,
minutes, ends_at, by: a participant id, None from REST) -- live/meeting_clock.py --, and
``room.client.admission_abandoned`` (room_id, knock_id, display_name: admitted while away, never
came back within the reconnect grace; live/lobby.py). Data keys are snake_case (epoch ms times). Listeners are called synchronously with (name, data)
and must not block (schedule work instead); a failing listener is logged and
never breaks the room. Data never carries keys or addresses.
"""

from __future__ import annotations

from typing import Any, Callable

import structlog

log = structlog.get_logger("antechamber.signaling")

Listener = Callable[[str, dict[str, Any]], None]


class Events:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, name: str, **data: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, data)
            except Exception:
                log.exception("event listener failed", event=name)
