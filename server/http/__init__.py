"""The HTTP edge: the REST APIs (api/), health probes, browser pages, error middleware and the
AppKeys handlers find services by. Imports nothing of signaling but its pure rules."""
