"""Where the REST handlers find what the composition root (server/app.py) built, once per app.

No module-level singletons, no service rebuilt per request: a handler reads
``request.app[ROOMS]`` and so on.
"""

from __future__ import annotations

from aiohttp import web

from ..config import Settings
from ..credentials import Credentials
from ..domain.access.identity import RoomAccess
from ..domain.access.links import RoomLinks
from ..domain.recordings.composition import Compositions
from ..domain.recordings.service import RecordingService
from ..domain.rooms.members import MemberService
from ..domain.rooms.service import RoomService

SETTINGS = web.AppKey("settings", Settings)
CREDENTIALS = web.AppKey("credentials", Credentials)     # the API keys checked by server/http/api/auth.py
STORE = web.AppKey("store", object)                      # the server.store.base.Store (opened at start-up)
ACCESS = web.AppKey("room_access", RoomAccess)           # key -> identity (recording access by room key)
LINKS = web.AppKey("room_links", RoomLinks)              # access links in room and member objects
ROOMS = web.AppKey("rooms", RoomService)
MEMBERS = web.AppKey("members", MemberService)
RECORDINGS = web.AppKey("recordings", RecordingService)
COMPOSITIONS = web.AppKey("compositions", Compositions)  # composed MP4s of recordings (docs/recording.md)
WEBHOOKS = web.AppKey("webhooks", object)                # server.domain.webhooks.service.Webhooks
READINESS = web.AppKey("readiness", object)              # server.http.health.Readiness (set by health.setup)
# the cluster (docs/architecture.md "Seams for the cluster"); unset on a single node without Redis
NODE_ID = web.AppKey("node_id", str)                     # this node's id (set by api/cluster.setup: settings.node_id)
NODES = web.AppKey("cluster_nodes", object)              # server.cluster.registry.NodeRegistry
OWNERS = web.AppKey("meeting_owners", object)            # server.http.api.cluster.MeetingOwners port
