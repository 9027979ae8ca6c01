"""Redis mechanics of the cluster: node registry, leases with fencing epochs, meeting ownership,
a leader lease, placement and the node bus (docs/architecture.md "Layers", "Seams for the cluster").

Knows no signaling, no media and no aiohttp; server.live glues it to the hub.
"""
