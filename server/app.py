"""The composition root: the one place that builds the server's objects and wires them together
(docs/architecture.md, "Layers" and "Objects and ownership").

``create_app`` builds, once, with explicit arguments: the store (opened when the app starts),
the access rule and links, the SFU, the signaling hub on the room directory, the LiveMeetings
port on the hub, the recording and room services, the sweeper; then mounts the HTTP surfaces,
the websocket and, last, the room pages' catch-all. REST handlers find the services through
server/http/appkeys.py. Start-up and shutdown order: "Life cycles" in docs/architecture.md.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable, Optional
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from .config import ConfigError, Settings, default_node_id
from .credentials import Credentials
from .domain.access.identity import RoomAccess
from .domain.access.links import RoomLinks
from .domain.live_meetings import LiveMeetings
from .domain.rate_limits import MemoryCounters, RateLimits
from .domain.recordings.composition import Compositions
from .domain.recordings.media import RecordingMedia
from .domain.recordings.recovery import recover_interrupted, settle_lost
from .domain.recordings.service import RecordingService
from .domain.rooms.meetings import MeetingLog
from .domain.rooms.members import MemberService
from .domain.rooms.names import RandomPool
from .domain.rooms.service import RoomService
from .domain.rooms.sweeper import Sweeper
from .domain.webhooks.dispatch import Dispatcher, Policy
from .domain.webhooks.endpoints import EndpointBook, EndpointError, from_settings
from .domain.webhooks.formats import Views
from .domain.webhooks.service import Webhooks
from .domain.webhooks.source import WebhookSource
from .cluster.rate_limits import RedisCounters
from .http import rate_limits, routes
from .http.appkeys import (ACCESS, CREDENTIALS, LINKS, MEMBERS, NODE_ID, NODES, OWNERS, READINESS, RECORDINGS,
                           ROOMS, SETTINGS, STORE)
from .http.api import recordings_native, room_view
from .http.appkeys import COMPOSITIONS, WEBHOOKS
from .http import observe
from .http.middleware import errors_middleware
from .http.webhook_client import WebhookClient
from .live.cluster import NodeCluster
from .live.cluster_recordings import ClusterRecordings
from .live.directory import StoreDirectory
from .live.hub import new_hub, new_sfu, websocket_handler
from .live.meetings import HubLiveMeetings
from .live.recording_media import SfuRecordingMedia
from .live.recording_messages import RecordingMessages
from .observability.collect import EventCounter, NodeCollector, ObservedSessions
from .observability.metrics import Metrics
from .store import new_store

log = structlog.get_logger("antechamber")

# what only the composition root uses (tests reach the live objects through these)
HUB = web.AppKey("signaling_hub", object)      # the signaling.live.hub.Hub of this node
SFU = web.AppKey("sfu", object)                # the media.sfu.MediaService behind the hub
SWEEPER = web.AppKey("sweeper", Sweeper)
CLUSTER = web.AppKey("cluster", object)        # server.live.cluster.NodeCluster, None on one node


def create_app(settings: Settings, credentials: Credentials, *, live: LiveMeetings | None = None,
               recording_media: RecordingMedia | None = None, timers: Any = None) -> web.Application:
    """The application. ``live`` and ``recording_media`` replace the hub's LiveMeetings port and
    the SFU's RecordingMedia for the domain (tests drive meetings and media through them);
    ``timers`` the clock of meeting deadlines (tests: signaling.live.meeting_clock.ManualTimers). With a
    Redis URL the node joins the cluster on it (server/live/cluster.py), unless ``live`` is given."""
    settings = settings.replace(node_id=settings.node_id or default_node_id())
    store = new_store(settings)
    access = RoomAccess(credentials.server_secret, store)
    sfu = new_sfu(settings)                                   # ConfigError for unusable ICE servers
    # the hub asks the domain through its directory, the domain asks the hub through LiveMeetings:
    # the directory is connected to the room service once that exists
    directory = StoreDirectory(settings, store, access)
    hub = new_hub(settings, directory, sfu, timers)
    hub_live = HubLiveMeetings(hub, settings)
    cluster = None
    if settings.redis_url and live is None:
        cluster = NodeCluster(settings, hub, hub_live, node_id=settings.node_id, streams=lambda: sfu.stream_count())
        live = cluster.live
    live = hub_live if live is None else live
    recordings = RecordingService(store, recording_media or SfuRecordingMedia.on_live(sfu, hub_live),
                                  directory=settings.data_dir / "recordings", server_secret=credentials.server_secret,
                                  node_id=settings.node_id)
    rooms = RoomService(store, live, recordings, random=RandomPool())
    meeting_log = MeetingLog(store, rooms, live)
    directory.connect(rooms, meeting_log)
    RecordingMessages(recordings, hub_live).register(hub)
    sweeper = Sweeper(store, live, rooms, may_act=(lambda: cluster.sweeper_leader.is_leader) if cluster else (lambda: True))

    metrics = Metrics(settings.node_id)     # this app's registry (docs/operations.md "Metrics")
    metrics.registry.register(NodeCollector(hub, sfu, recordings))
    hub.events.subscribe(EventCounter(metrics))
    app = web.Application(middlewares=[observe.observe_middleware(metrics), errors_middleware],
                          client_max_size=settings.max_body_bytes)
    observe.setup(app, metrics, settings)
    app[SETTINGS], app[CREDENTIALS], app[STORE] = settings, credentials, store
    # REST budgets per API key: one counter for the whole cluster in Redis (docs/architecture.md "Limits")
    rate_limits.setup(app, RateLimits(settings.rest_rate_limit_per_minute,
                                      RedisCounters(cluster.redis, cluster.prefix) if cluster else MemoryCounters()))
    app[ACCESS], app[LINKS] = access, RoomLinks(settings.base_url, access)
    app[ROOMS], app[MEMBERS] = rooms, MemberService(store, live)
    # REST's recordings: on a cluster node, start / stop run where the meeting's media is
    app[RECORDINGS] = ClusterRecordings(recordings, cluster.ownership, cluster.bus, settings.node_id) \
        if cluster else recordings
    app[HUB], app[SFU], app[SWEEPER], app[CLUSTER] = hub, sfu, sweeper, cluster
    app[NODE_ID] = settings.node_id

    # started in this order, stopped in the reverse one
    app.cleanup_ctx.append(_lifetime(store.open, lambda: _close_store(store, meeting_log)))
    app[WEBHOOKS] = webhooks = _webhooks(app, settings, store, live, recordings, cluster)
    app.cleanup_ctx.append(_lifetime(webhooks.dispatcher.start, webhooks.dispatcher.close))
    app.cleanup_ctx.append(_lifetime(hub.start, hub.close))
    app.cleanup_ctx.append(_lifetime(sfu.start, sfu.close))
    app.cleanup_ctx.append(_lifetime(lambda: _recover(recordings, settings), recordings.shutdown))
    app[COMPOSITIONS] = compositions = Compositions(recordings, single_node=not settings.redis_url)
    compositions.listeners.append(webhooks.source.composition_changed)   # "the composed MP4 is ready"
    app.cleanup_ctx.append(_lifetime(compositions.start, compositions.close))   # after recovery: resumes pending
    if cluster is not None:
        async def taken_over(snap: dict) -> None:     # the old owner's recording cannot go on here
            if snap.get("recordingId"):
                await settle_lost(recordings, snap["recordingId"])
        cluster.on_taken_over(taken_over)
        app.cleanup_ctx.append(_lifetime(cluster.start, cluster.close))
        app.on_shutdown.append(lambda app: cluster.drain(recordings.shutdown))   # hands meetings over first
    app.cleanup_ctx.append(_lifetime(sweeper.start, sweeper.close))
    app.on_shutdown.append(lambda app: hub.shutdown("server_shutdown"))   # before any of the above stops

    routes.setup(app)
    if cluster is not None:
        app[NODES], app[OWNERS] = cluster.registry, cluster.ownership
        app[READINESS].add("cluster", cluster.redis.ping)
        app[READINESS].add("draining", cluster.accepting, ttl=0)   # 503 once SIGTERM started the drain
    sessions = ObservedSessions(cluster.gateway if cluster else hub, metrics)   # log context, message counts
    app.router.add_get("/ws", websocket_handler(sessions, settings))
    routes.setup_room_route(app)   # the /{roomName} catch-all: keep it the last route added
    return app


def _webhooks(app: web.Application, settings: Settings, store, live: LiveMeetings, recordings: RecordingService,
              cluster) -> Webhooks:
    """Webhooks (docs/webhooks.md): events from this node's meetings and recordings into the store's
    outbox; one delivery loop per cluster (``leader:webhooks``), posting with its own HTTP client."""
    try:
        configured = from_settings(settings.webhook_urls, settings.webhook_secrets, settings.webhook_formats,
                                   settings.webhook_events)
    except EndpointError as exc:
        raise ConfigError(str(exc)) from None
    book, client = EndpointBook(store, configured), WebhookClient()
    policy = Policy(max_attempts=settings.webhook_max_attempts, timeout=settings.webhook_timeout_seconds,
                    backoff=settings.webhook_backoff_seconds, backoff_max=settings.webhook_backoff_max_seconds,
                    poll=settings.webhook_poll_seconds)
    dispatcher = Dispatcher(store, book, client.post, policy,
                            may_act=(lambda: cluster.webhooks_leader.is_leader) if cluster else (lambda: True))
    views = Views(room=lambda room: room_view.render(app, room), recording=recordings_native.render,
                  subdomain=urlsplit(settings.base_url).hostname or "")
    source = WebhookSource(store, book, views, on_written=dispatcher.wake)
    live.subscribe(source.on_live_event)
    recordings.status_listeners.append(source.recording_changed)
    app.on_cleanup.append(lambda _app: client.close())
    return Webhooks(store, book, source, dispatcher, client.post)


Step = Optional[Callable[[], Awaitable[None]]]


async def _close_store(store: Any, meeting_log: MeetingLog) -> None:
    """The participants' leaves queued while the hub and SFU closed are written before the store closes
    (they were lost with "sqlite store is not open" at every shutdown with people in a meeting)."""
    await meeting_log.written()
    await store.close()


def _lifetime(start: Step, stop: Step):
    """A cleanup_ctx entry: ``await start()`` when the app starts, ``await stop()`` when it stops."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if start is not None:
            await start()
        yield
        if stop is not None:
            await stop()
    return ctx


async def _recover(recordings: RecordingService, settings: Settings) -> None:
    """Settle what a crash left recording; a failure here never keeps the server from starting."""
    try:
        await recover_interrupted(recordings, single_node=not settings.redis_url)
    except Exception:  # noqa: BLE001
        log.exception("recording recovery failed")
