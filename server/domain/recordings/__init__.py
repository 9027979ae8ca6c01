"""Recordings: the service (start/stop/delete/links), its RecordingMedia port, crash recovery."""
