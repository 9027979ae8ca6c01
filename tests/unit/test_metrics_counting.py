"""The pure parts of the metrics (server/observability): each app counts in its own registry, the
counting functions count for the app of the current context only, domain events become counts and
knock waits, SFU totals fold once."""

from __future__ import annotations

from media.forward.stats import ForwardTotals, add_counts
from server.observability.collect import EventCounter
from server.observability.metrics import Metrics, count_rate_limited, count_relay, count_webhook_delivery


def sample(m: Metrics, name: str, **labels) -> float:
    return m.registry.get_sample_value(name, labels) or 0.0


def test_counting_functions_count_for_the_active_app_only():
    a, b = Metrics("a"), Metrics("b")
    count_rate_limited("rest")                       # no app in this context: nothing, no error
    token = a.activate()
    try:
        count_rate_limited("rest")
        count_rate_limited("knock")
        count_webhook_delivery("delivered")
        count_relay("sent", "up")
    finally:
        a.deactivate(token)
    count_webhook_delivery("failed")
    assert sample(a, "antechamber_rate_limited_total", scope="rest") == 1
    assert sample(a, "antechamber_rate_limited_total", scope="knock") == 1
    assert sample(a, "antechamber_webhook_deliveries_total", result="delivered") == 1
    assert sample(a, "antechamber_webhook_deliveries_total", result="failed") == 0
    assert sample(a, "antechamber_relay_messages_total", direction="sent", kind="up") == 1
    assert sample(b, "antechamber_rate_limited_total", scope="rest") == 0
    assert sample(a, "antechamber_node_info", node="a") == 1 and sample(b, "antechamber_node_info", node="b") == 1


def test_events_become_counts_and_knock_waits():
    m, now = Metrics(), [100.0]
    events = EventCounter(m, clock=lambda: now[0])
    events("room.client.knocked", {"room_id": "r", "knock_id": "k1"})
    events("room.client.knocked", {"room_id": "r", "knock_id": "k2"})
    now[0] = 112.5
    events("room.client.knock_decided", {"room_id": "r", "knock_id": "k1", "state": "admitted"})
    now[0] = 130.0
    events("room.client.knock_cancelled", {"room_id": "r", "knock_id": "k2", "state": "cancelled"})
    events("room.client.knock_decided", {"room_id": "r", "knock_id": "k-restored", "state": "rejected"})
    events("room.client.joined", {"room_id": "r", "role": "guest"})
    events("room.client.left", {"room_id": "r", "reason": "left"})
    events("room.client.left", {"room_id": "r", "reason": "a reason with spaces \u202e and more"})
    events("room.session.ended", {"room_id": "r", "reason": "last_participant_left"})
    assert sample(m, "antechamber_knocks_total") == 2
    assert sample(m, "antechamber_admission_decisions_total", decision="admitted") == 1
    assert sample(m, "antechamber_admission_decisions_total", decision="cancelled") == 1
    assert sample(m, "antechamber_admission_decisions_total", decision="rejected") == 1
    assert sample(m, "antechamber_knock_wait_seconds_sum", decision="admitted") == 12.5
    assert sample(m, "antechamber_knock_wait_seconds_sum", decision="cancelled") == 30.0
    assert sample(m, "antechamber_knock_wait_seconds_bucket", decision="admitted", le="15.0") == 1
    assert sample(m, "antechamber_knock_wait_seconds_bucket", decision="admitted", le="5.0") == 0
    assert sample(m, "antechamber_knock_wait_seconds_count", decision="rejected") == 0   # its knock was not seen
    assert sample(m, "antechamber_participants_joined_total", role="guest") == 1
    assert sample(m, "antechamber_participants_left_total", reason="left") == 1
    assert sample(m, "antechamber_participants_left_total", reason="other") == 1        # bounded labels
    assert sample(m, "antechamber_meetings_ended_total", reason="last_participant_left") == 1


def test_undecided_knocks_are_forgotten_beyond_the_bound():
    m = Metrics()
    events = EventCounter(m, clock=lambda: 0.0)
    events.MAX_TRACKED = 3
    for i in range(5):
        events("room.client.knocked", {"knock_id": f"k{i}"})
    assert list(events._knocked) == ["k2", "k3", "k4"]


def test_forward_totals_fold():
    totals = ForwardTotals()
    totals.fold({"packets": 10, "bytes": 1000, "nacks": 1})
    totals.fold({"packets": 5, "plis": 2})
    out = totals.as_dict()
    add_counts(out, {"packets": 1, "unsent": 3})
    assert out["packets"] == 16 and out["bytes"] == 1000 and out["nacks"] == 1 and out["plis"] == 2
    assert out["unsent"] == 3 and out["dropped_keyframe_wait"] == 0


class _Inner:
    """A dispatcher that records what reaches it (the hub's role, for the wrapper only)."""

    messages = "the registry"

    def __init__(self) -> None:
        self.seen: list = []

    def connect(self, connection):
        self.seen.append(("connect", connection))
        return "participant"

    async def handle(self, p, req):
        self.seen.append(("handle", req.type))

    def disconnected(self, p, reason="disconnected"):
        self.seen.append(("disconnected", reason))


class _Req:
    def __init__(self, type_: str) -> None:
        self.type, self.data = type_, {}

    def get(self, name, default=None):
        return self.data.get(name, default)


async def test_observed_sessions_count_and_bind_a_session_id():
    import structlog

    from server.observability.collect import ObservedSessions

    m, inner = Metrics(), _Inner()
    sessions = ObservedSessions(inner, m)
    assert sessions.messages == "the registry"
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="r1")
    try:
        assert sessions.connect("conn") == "participant"
        bound = structlog.contextvars.get_contextvars()
        assert bound["session_id"].startswith("s_") and "request_id" not in bound
        await sessions.handle("participant", _Req("chat"))
        await sessions.handle("participant", _Req("chat"))
        sessions.observe_error("forbidden")
        sessions.observe_error("rate_limited")
        sessions.disconnected("participant", "too_slow")
        sessions.disconnected("participant", "idle")
    finally:
        structlog.contextvars.clear_contextvars()
    assert inner.seen == [("connect", "conn"), ("handle", "chat"), ("handle", "chat"), ("disconnected", "too_slow"),
                          ("disconnected", "idle")]
    assert sample(m, "antechamber_ws_sessions_total") == 1
    assert sample(m, "antechamber_ws_messages_total", type="chat") == 2
    assert sample(m, "antechamber_ws_errors_total", code="forbidden") == 1
    assert sample(m, "antechamber_rate_limited_total", scope="websocket") == 1
    assert sample(m, "antechamber_ws_send_queue_overflows_total") == 1
