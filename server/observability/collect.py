"""What the metrics read from the live objects, and the websocket sessions' log context
(docs/operations.md; docs/architecture.md "Observability").

``NodeCollector`` is a custom Prometheus collector: at every scrape it reads the hub's rooms
(meetings, participants by role, knocks waiting, sessions), the SFU's forwarding totals
(media/forward/stats.py: nothing is counted per packet for Prometheus) and the recordings
running here. ``EventCounter`` listens to the hub's domain events (signaling/live/events.py) for
knocks, admission decisions and their wait, joins, leaves and meetings. ``ObservedSessions`` wraps
the websocket's dispatcher (the hub, or a cluster node's gateway): each connection gets a session
id, bound with the room id (once joined) into structlog's context variables, so every line logged
while handling that connection's messages carries them; it counts messages by type, the errors the
transport sends (``observe_error``) and the clients dropped for a full send queue.

The objects are read through their public attributes, not imported: this module sits beside
server.live, below the composition root, and imports nothing of signaling or media.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from typing import Any, Callable, Iterator

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from .metrics import Metrics

log = structlog.get_logger("antechamber.observability")

_MEDIA_COUNTERS = (
    ("packets", "antechamber_media_forwarded_packets", "RTP packets forwarded to subscribers."),
    ("bytes", "antechamber_media_forwarded_bytes", "RTP payload bytes forwarded to subscribers."),
    ("nacks", "antechamber_media_nack_retransmissions", "Packets retransmitted on a subscriber's NACK."),
    ("nacks_ignored", "antechamber_media_nack_ignored",
     "NACKed packets not sent again: resent within a round trip, three times already, or over the budget."),
    ("keyframe_requests", "antechamber_media_keyframe_requests", "PLI/FIR received from subscribers."),
    ("plis", "antechamber_media_plis_sent", "PLIs sent to publishers (keyframe requests, throttled)."),
)
_MEDIA_DROPS = (("dropped_keyframe_wait", "keyframe_wait"), ("unsent", "no_transport"), ("refused", "refused"),
               ("backlog_full", "backlog_full"))


class NodeCollector(Collector):
    """Gauges and media counters read at scrape time from the hub, the SFU and the recordings."""

    def __init__(self, hub: Any, sfu: Any, recordings: Any) -> None:
        self.hub, self.sfu, self.recordings = hub, sfu, recordings

    def describe(self) -> list:
        return []       # families vary with what is live; nothing to check at registration

    def collect(self) -> Iterator:
        yield from self._rooms()
        yield from self._media()
        yield from self._recordings()

    def _rooms(self) -> Iterator:
        rooms = list(self.hub.rooms.values())
        by_role: dict[str, int] = {}
        knocks = meetings = 0
        for room in rooms:
            meetings += room.meeting is not None
            knocks += len(room.waiting)
            for p in list(room.participants.values()):
                by_role[p.role or "unknown"] = by_role.get(p.role or "unknown", 0) + 1
        yield GaugeMetricFamily("antechamber_rooms_live", "Rooms live on this node (someone in or waiting).",
                                value=len(rooms))
        yield GaugeMetricFamily("antechamber_meetings_live", "Meetings running on this node.", value=meetings)
        people = GaugeMetricFamily("antechamber_participants", "Participants in meetings on this node, by role.",
                                   labels=["role"])
        for role in sorted(set(by_role) | {"host", "guest", "viewer"}):
            people.add_metric([role], by_role.get(role, 0))
        yield people
        yield GaugeMetricFamily("antechamber_knocks_waiting", "Knocks waiting for a decision (pending or held).",
                                value=knocks)
        yield GaugeMetricFamily("antechamber_ws_connections", "Signaling connections held by this node's hub.",
                                value=len(self.hub.participants))

    def _media(self) -> Iterator:
        stats = self.sfu.forward_stats()
        for key, name, doc in _MEDIA_COUNTERS:
            yield CounterMetricFamily(name, doc, value=stats.get(key, 0))
        drops = CounterMetricFamily("antechamber_media_dropped_packets", "Packets not forwarded, by reason "
                                    "(keyframe_wait: before a keyframe; no_transport: not connected; refused: by "
                                    "SRTP or the kernel, a full socket buffer; backlog_full: the fan-out fell "
                                    "too far behind).",
                                    labels=["reason"])
        for key, reason in _MEDIA_DROPS:
            drops.add_metric([reason], stats.get(key, 0))
        yield drops
        yield GaugeMetricFamily("antechamber_media_rooms", "Media rooms open in the SFU.", value=len(self.sfu.rooms))
        yield GaugeMetricFamily("antechamber_media_streams", "Streams forwarded now (publications x subscribers).",
                                value=self.sfu.stream_count())
        yield from self._load()

    def _load(self) -> Iterator:
        """The SFU's load gauge (media/load.py): loop lag, forwarded packets/s, busy."""
        gauge = getattr(self.sfu, "load", None)
        if gauge is None:
            return
        lags = gauge.lags
        yield HistogramMetricFamily("antechamber_event_loop_lag_seconds", "How late the event loop ran a "
                                    "callback scheduled every 0.1 s.", buckets=lags.histogram(), sum_value=lags.sum)
        stats = gauge.stats()
        yield GaugeMetricFamily("antechamber_event_loop_lag_p99_seconds", "Loop lag p99 over the last seconds.",
                                value=stats["lag_p99"])
        yield GaugeMetricFamily("antechamber_event_loop_lag_p90_seconds", "Loop lag p90 over the last seconds: "
                                "what the busy flag's lag rule reads (--busy-lag-ms).", value=stats["lag_p90"])
        yield GaugeMetricFamily("antechamber_forwarded_packets_per_second", "RTP packets forwarded per second "
                                "(last second).", value=stats["forwarded_pps"])
        yield GaugeMetricFamily("antechamber_process_cpu_fraction", "Process CPU over the last second (1 = one "
                                "core).", value=stats["cpu"])
        yield GaugeMetricFamily("antechamber_process_cpu_sustained_fraction", "Process CPU over the last 10 "
                                "seconds (1 = one core): what the busy flag's CPU rules read.",
                                value=stats["cpu_sustained"])
        yield GaugeMetricFamily("antechamber_forwarding_busy", "1 while past the forwarding budget (new joins "
                                "get server_busy).", value=stats["busy"])
        pauses = getattr(self.sfu, "gc_pauses", None)
        if pauses is not None:   # media/heap.py
            family = HistogramMetricFamily("antechamber_gc_pause_seconds", "Garbage-collector pauses of this "
                                           "process (the event loop stands still meanwhile).", labels=["generation"])
            for g in range(3):
                family.add_metric([str(g)], pauses.histogram(g), sum_value=pauses.sums[g])
            yield family
        heap = getattr(self.sfu, "heap", None)
        if heap is not None:
            yield CounterMetricFamily("antechamber_gc_complete_collections", "Complete collections of the frozen "
                                      "heap by the pacer (after departures).", value=heap.complete_collections)
            yield CounterMetricFamily("antechamber_gc_freezes", "Times the pacer moved the settled heap out of "
                                      "the collector's sight (gc.freeze).", value=heap.freezes)

    def _recordings(self) -> Iterator:
        active = self.recordings.running()
        writing = 0
        for rec in active:
            path = self.recordings.path_of(rec)
            if path is not None:
                writing += sum(_size(f) for f in path.parent.glob(f"{path.stem}*{path.suffix}"))
        yield GaugeMetricFamily("antechamber_recordings_active", "Recordings being written on this node.",
                                value=len(active))
        yield CounterMetricFamily("antechamber_recording_bytes_written", "Bytes of recording files written: "
                                  "finished files and what running ones hold so far.",
                                  value=self.recordings.bytes_finished + writing)


def _size(path: Any) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class EventCounter:
    """Counts the hub's domain events; the wait of each knock from its ``knocked`` to its decision."""

    MAX_TRACKED = 10_000   # knocks that vanish undecided (a meeting handed over) are forgotten oldest first

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.m, self.clock = metrics, clock
        self._knocked: OrderedDict[str, float] = OrderedDict()

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        m = self.m
        if name == "room.client.knocked":
            m.knocks.inc()
            self._knocked[str(data.get("knock_id"))] = self.clock()
            while len(self._knocked) > self.MAX_TRACKED:
                self._knocked.popitem(last=False)
        elif name in ("room.client.knock_decided", "room.client.knock_cancelled"):
            decision = "cancelled" if name.endswith("cancelled") else str(data.get("state") or "unknown")
            m.admissions.labels(decision=decision).inc()
            since = self._knocked.pop(str(data.get("knock_id")), None)
            if since is not None:
                m.knock_wait.labels(decision=decision).observe(self.clock() - since)
        elif name == "room.client.joined":
            m.joins.labels(role=str(data.get("role") or "unknown")).inc()
        elif name == "room.client.left":
            m.leaves.labels(reason=_bounded(data.get("reason"))).inc()
        elif name == "room.session.started":
            m.meetings_started.inc()
        elif name == "room.session.ended":
            m.meetings_ended.labels(reason=_bounded(data.get("reason"))).inc()


def _bounded(reason: Any) -> str:
    """Reasons are the server's own short words; anything else is folded into "other"."""
    text = str(reason or "unknown")
    return text if len(text) <= 32 and text.replace("_", "").isalnum() else "other"


class ObservedSessions:
    """The websocket's dispatcher with each session's log context and message counts."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner, self.m = inner, metrics

    @property
    def messages(self) -> Any:
        return self.inner.messages

    def connect(self, connection: Any) -> Any:
        """Runs in the connection's own task: what is bound here stays on its lines."""
        session_id = "s_" + secrets.token_urlsafe(9)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        structlog.contextvars.unbind_contextvars("request_id")
        structlog.contextvars.bind_contextvars(session_id=session_id)
        self.m.ws_sessions.inc()
        log.info("websocket session opened", request_id=request_id)
        return self.inner.connect(connection)

    async def handle(self, p: Any, req: Any) -> None:
        self.m.ws_messages.labels(type=req.type).inc()
        try:
            await self.inner.handle(p, req)
        finally:
            if req.type == "join":
                self._bind_room(p, req)

    def _bind_room(self, p: Any, req: Any) -> None:
        connection = getattr(p, "connection", None)
        current = getattr(connection, "participant", None) or p      # a resume binds another participant
        room_id = getattr(current, "room_id", "")
        if room_id:
            structlog.contextvars.bind_contextvars(room_id=room_id, participant_id=current.participant_id)
        elif isinstance(req.get("roomName"), str):      # relayed to the owner node: the name is known here
            structlog.contextvars.bind_contextvars(room_name=req.get("roomName")[:64])

    def observe_error(self, code: str) -> None:
        """The transport sent an ``error`` (signaling/transport/websocket.py); codes are the server's."""
        self.m.ws_errors.labels(code=_bounded(code)).inc()
        if code == "rate_limited":      # a join, knock or chat limit of signaling (docs/protocol.md)
            self.m.rate_limited.labels(scope="websocket").inc()

    def disconnected(self, p: Any, reason: str = "disconnected") -> None:
        if reason == "too_slow":        # the transport's send queue was full
            self.m.ws_send_queue_overflows.inc()
        self.inner.disconnected(p, reason)

    def __getattr__(self, name: str) -> Any:     # anything else the transport may ask of the hub
        return getattr(self.inner, name)
