"""structlog set-up: JSON lines in production, coloured console in a terminal."""

from __future__ import annotations

import logging
import re
import sys

import structlog

_SECRET_KEYS = re.compile(r"(api_?key|room_?key|viewer_?key|member_?key|secret|token|authorization|password|credential|key)$", re.I)


def _redact(_logger, _name, event_dict):
    """Never let a secret reach a log line, whatever a caller passed."""
    for k in list(event_dict):
        if _SECRET_KEYS.search(k):
            event_dict[k] = "[redacted]"
    return event_dict


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=lvl, stream=sys.stderr, format="%(message)s")
    for noisy in ("aioice", "aiortc", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # plain tracebacks: the rich/better-exceptions formatters print local variables, which can
        # hold request headers, keys and tokens
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                           exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info if fmt == "json" else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
