"""Webhooks (docs/webhooks.md; docs/architecture.md "Stores and writes" and "Seams for the cluster").

``formats``: domain events as Whereby's and OpenVidu Meet's webhook bodies and signature headers.
``endpoints``: the receivers (from the settings and from ``PUT /api/v1/config/webhooks``).
``source``: turns live and recording events into deliveries written to the store's outbox.
``dispatch``: the delivery loop (one per cluster, under ``leader:webhooks``), retries and order.
"""
