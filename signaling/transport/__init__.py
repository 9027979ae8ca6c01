"""Connections to participants: the websocket actor (docs/architecture.md "Layers", "Seams for the cluster")."""
