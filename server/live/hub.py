"""The signaling hub of this node, with the SFU behind it, and its websocket endpoint (/ws).

Built once by the composition root (server/app.py); nothing else in the server holds the hub:
the domain reaches it through the LiveMeetings port (server/live/meetings.py).
"""

from __future__ import annotations

from typing import Any

from media.ports import MediaConfig, MediaServicePort
from media.sfu import MediaService
from signaling.live.hub import Hub
from signaling.rules.cooldowns import AbuseLimits
from signaling.media_bridge import SfuBridge
from signaling.ports import RoomDirectory
from signaling.transport.websocket import Limits, make_handler

from ..config import ConfigError, Settings
from ..domain.access.turn import TurnCredentials


def new_sfu(settings: Settings) -> MediaService:
    """This node's SFU; ConfigError for ICE servers it cannot use."""
    try:
        return MediaService(MediaConfig(ice_servers=tuple(settings.ice_servers), public_ip=settings.public_ip,
                                        udp_ports=settings.udp_ports),
                            max_forward_pps=settings.max_forward_pps or None,
                            busy_lag=max(settings.busy_lag_ms, 0) / 1000, busy_cpu=settings.busy_cpu,
                            heap_pacing=settings.gc_pacing)
    except ValueError as exc:
        raise ConfigError(f"ice_servers: {exc}") from None


def new_hub(settings: Settings, directory: RoomDirectory, sfu: MediaServicePort, timers: Any = None) -> Hub:
    """The hub on ``directory``, telling the SFU who comes and goes (the SFU's messages included)."""
    hub = Hub(directory, knock_cooldown_seconds=settings.knock_cooldown_seconds,
              knocks_per_ip_per_minute=settings.knocks_per_ip_per_minute,
              reconnect_grace_seconds=settings.reconnect_grace_seconds, abuse=abuse_limits(settings),
              **({"timers": timers, "wall_clock": timers.time} if timers is not None else {}))
    turn = (TurnCredentials(settings.turn_secret, tuple(settings.turn_urls), settings.turn_ttl_seconds)
            if settings.turn_secret else None)
    SfuBridge(sfu, turn=turn, ice_transport_policy=settings.ice_transport_policy).install(hub)
    return hub


def abuse_limits(settings: Settings) -> AbuseLimits:
    """The join, knock and chat limits of the settings (docs/protocol.md "Rate limits and cooldowns")."""
    return AbuseLimits(joins_per_ip_per_minute=settings.joins_per_ip_per_minute,
                       joins_per_room_per_minute=settings.joins_per_room_per_minute,
                       knocks_per_room_per_minute=settings.knocks_per_room_per_minute,
                       pending_knocks_per_ip=settings.pending_knocks_per_ip,
                       min_knock_interval_seconds=settings.min_knock_interval_seconds,
                       chat_per_second=settings.chat_per_second, chat_per_minute=settings.chat_per_minute)


def websocket_handler(hub: Hub, settings: Settings):
    """The aiohttp handler of /ws: one signaling session per connection, within the settings' limits."""
    limits = Limits(max_message_bytes=settings.ws_max_message_bytes,
                    heartbeat_seconds=settings.ws_heartbeat_seconds,
                    idle_timeout_seconds=settings.ws_idle_timeout_seconds,
                    unauthenticated_per_address=settings.ws_unauthenticated_per_ip,
                    join_deadline_seconds=settings.ws_join_deadline_seconds,
                    trusted_proxies=tuple(settings.trusted_proxies))
    return make_handler(lambda request: hub, limits)
