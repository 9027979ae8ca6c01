"""Forwarding to subscribers: the packet path and keyframe handling."""
