"""Rooms: the one write path and the deletion policies (service), defaults and the participant cap,
ids, members, meetings, expiry (sweeper)."""
