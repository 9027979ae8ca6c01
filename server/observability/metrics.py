"""The metric families of one application, each app with its own CollectorRegistry (tests build many
apps in one process), and the counting functions other modules call (docs/operations.md "Metrics").

What changes on a path that is not per packet is counted here as it happens (REST requests,
websocket messages, knocks, rate-limit refusals, webhook deliveries, relayed messages); what the
SFU, the hub and the recorder already keep is read at scrape time (server/observability/collect.py).

``count_rate_limited``, ``count_webhook_delivery`` and ``count_relay`` find the app they count for
through a context variable: set for each request (server/http/observe.py) and at the app's start,
so tasks started then (the cluster bus, webhook workers) inherit it; outside any app they count
nothing. Label values are bounded: callers pass names from a fixed set, never user input.
"""

from __future__ import annotations

import contextvars
from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

_CURRENT: contextvars.ContextVar[Optional["Metrics"]] = contextvars.ContextVar("antechamber_metrics", default=None)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOCK_WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class Metrics:
    """Every metric of one app, registered on ``self.registry``."""

    def __init__(self, node_id: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.info = Gauge("antechamber_node_info", "This node (value 1).", ["node"], registry=r)
        self.info.labels(node=node_id or "").set(1)
        # REST
        self.http_requests = Counter("antechamber_http_requests", "HTTP requests answered, by route template "
                                     "(unmatched: no route), method and status.", ["route", "method", "status"],
                                     registry=r)
        self.http_latency = Histogram("antechamber_http_request_duration_seconds", "Time to answer an HTTP "
                                      "request (the websocket excluded).", ["route", "method"],
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.rate_limited = Counter("antechamber_rate_limited", "Requests refused by a rate limit (REST 429, "
                                    "websocket rate_limited), by scope.", ["scope"], registry=r)
        # websocket
        self.ws_sessions = Counter("antechamber_ws_sessions", "Websocket sessions opened.", registry=r)
        self.ws_messages = Counter("antechamber_ws_messages", "Websocket messages received and parsed, by type.",
                                   ["type"], registry=r)
        self.ws_errors = Counter("antechamber_ws_errors", "Websocket error messages sent to clients, by code.",
                                 ["code"], registry=r)
        self.ws_send_queue_overflows = Counter("antechamber_ws_send_queue_overflows", "Clients disconnected "
                                               "because their send queue was full (too slow).", registry=r)
        # rooms, knocks, admission
        self.knocks = Counter("antechamber_knocks", "Knocks at locked rooms.", registry=r)
        self.admissions = Counter("antechamber_admission_decisions", "Knocks decided, by decision "
                                  "(admitted, rejected, cancelled).", ["decision"], registry=r)
        self.knock_wait = Histogram("antechamber_knock_wait_seconds", "Time from a knock to its decision.",
                                    ["decision"], buckets=KNOCK_WAIT_BUCKETS, registry=r)
        self.joins = Counter("antechamber_participants_joined", "Participants who entered a meeting, by role.",
                             ["role"], registry=r)
        self.leaves = Counter("antechamber_participants_left", "Participants who left a meeting, by reason.",
                              ["reason"], registry=r)
        self.meetings_started = Counter("antechamber_meetings_started", "Meetings started on this node.",
                                        registry=r)
        self.meetings_ended = Counter("antechamber_meetings_ended", "Meetings ended on this node, by reason.",
                                      ["reason"], registry=r)
        # integrations
        self.webhook_deliveries = Counter("antechamber_webhook_deliveries", "Webhook delivery attempts, by result.",
                                          ["result"], registry=r)
        self.relay_messages = Counter("antechamber_relay_messages", "Signaling envelopes relayed between nodes, "
                                      "by direction (sent, received) and kind (join, up, down, gone).",
                                      ["direction", "kind"], registry=r)

    def activate(self) -> contextvars.Token:
        """Count for this app in the current context (and the tasks it starts)."""
        return _CURRENT.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token) -> None:
        _CURRENT.reset(token)


def current() -> Optional[Metrics]:
    return _CURRENT.get()


def count_rate_limited(scope: str) -> None:
    """A request refused by a rate limit; ``scope`` from a fixed set: "rest" (the REST budget per key)."""
    m = _CURRENT.get()
    if m is not None:
        m.rate_limited.labels(scope=scope).inc()


def count_webhook_delivery(result: str) -> None:
    """One webhook delivery attempt; ``result`` e.g. "delivered", "failed", "retry", "gave_up"."""
    m = _CURRENT.get()
    if m is not None:
        m.webhook_deliveries.labels(result=result).inc()


def count_relay(direction: str, kind: str) -> None:
    """One envelope of relayed signaling (server/live/relay.py) sent or received."""
    m = _CURRENT.get()
    if m is not None:
        m.relay_messages.labels(direction=direction, kind=kind).inc()
