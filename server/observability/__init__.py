"""Observability: Prometheus metrics and the log context (docs/operations.md, docs/architecture.md
"Observability").

``metrics``: the metric families of one app (its own CollectorRegistry) and the ``count_*`` functions
any layer may call (bottom layer: it imports nothing of the server). ``collect``: what is read at
scrape time from the hub, the SFU and the recordings, the domain-event listener and the websocket
sessions' log context (it reads signaling and media objects without importing them). The HTTP side
(request ids, REST metrics, ``/metrics``) is server/http/observe.py.
"""
