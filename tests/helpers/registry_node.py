"""A real server process whose app carries this node's registry entry, as the composition root will
wire it for a cluster (app[NODE_ID], app[NODES] = the NodeRegistry, the recording service's node id):
``python -m tests.helpers.registry_node serve --redis-url ... --node-id ... [serve flags]``.

For tests of what needs the registry before server/app.py wires it (recordings from any node).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from server.app import create_app
from server.cli import build_parser
from server.cluster.redis_client import connect
from server.cluster.registry import NodeRegistry
from server.config import load_settings
from server.credentials import load_credentials
from server.http.appkeys import NODE_ID, NODES, RECORDINGS
from server.logs import configure_logging
from server.store.redis_store import split_prefix


def main(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    flags["api_keys"] = tuple(flags.get("api_keys") or ())
    settings = load_settings({k: v for k, v in flags.items() if k in ("host", "port", "data_dir", "api_keys",
                                                                       "redis_url", "node_id", "log_format")})
    configure_logging(settings.log_format, settings.log_level)
    redis_url, prefix = split_prefix(settings.redis_url)
    creds = load_credentials(settings.data_dir, settings.api_keys, redis_url=redis_url, key_prefix=prefix)
    app = create_app(settings, creds)
    redis, cluster_prefix = connect(settings.redis_url)
    registry = NodeRegistry(redis, cluster_prefix, settings.node_id, settings.base_url, load=lambda: {})
    app[NODE_ID], app[NODES] = settings.node_id, registry
    app[RECORDINGS].node_id = settings.node_id

    async def lifetime(_app: web.Application):
        await registry.start()
        yield
        await registry.close()
        await redis.aclose()

    app.cleanup_ctx.append(lifetime)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None, shutdown_timeout=2.0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(sys.argv[1:])
