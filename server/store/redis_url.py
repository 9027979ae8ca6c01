"""A Redis URL with the store's key prefix in it: ``redis://host:6379/0?prefix=t1:`` (the
store's, and under it the cluster's keys: server/store/redis_store.py, server/cluster/)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PREFIX = "antechamber:"


def split_prefix(url: str) -> tuple[str, str]:
    """Take the ``prefix`` query parameter out of a Redis URL: (url without it, prefix)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    plain = urlunsplit(parts._replace(query=urlencode(rest)))
    if parts.scheme == "unix" and not parts.netloc:  # urlunsplit drops the '//' of 'unix:///path'
        plain = "unix://" + plain[len("unix:"):]
    return plain, prefix
