"""The media side of one live meeting: participants, publications, sinks,
active speaker. Implements `ports.MediaRoomPort` (downward, for signaling) and
the `ParticipantListener` / `PublicationListener` its participants and
publications report to (upward); they never import this module."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Callable, Iterator, Mapping, Optional

import structlog

from .forward.stats import ForwardTotals
from .participant import MediaParticipant
from .ports import (
    ActiveSpeaker,
    FrameSink,
    Listener,
    MediaConfig,
    MediaEvent,
    PublicationInfo,
    PublicationsChanged,
    UnknownParticipant,
    WrongState,
    PERMISSIONS,
)
from .publication import Publication
from .speaker import ActiveSpeakerDetector
from .turns import NEGOTIATIONS_PER_TURN, Turns

log = structlog.get_logger("media.room")
SPEAKER_EVAL_INTERVAL = 0.05


class _SinkHandle:
    def __init__(self, room: "MediaRoom", sink: FrameSink, want_keyframes: bool) -> None:
        self.room = room
        self.sink = sink
        self.want_keyframes = want_keyframes
        self.attached = True

    def request_keyframe(self, publication_id: Optional[str] = None) -> None:
        for pub in self.room.pubs.values():
            if publication_id is None or pub.id == publication_id:
                pub.request_keyframe()

    def detach(self) -> None:
        if self.attached:
            self.attached = False
            self.room.detach_sink(self)


class MediaRoom:
    def __init__(
        self,
        room_id: str,
        config: MediaConfig,
        listener: Optional[Listener],
        on_closed: Callable[["MediaRoom"], None],
        publication_numbers: Optional[Iterator[int]] = None,
        totals: Optional[ForwardTotals] = None,
        departed: Optional[Callable[[], None]] = None,
        turns: Optional[Turns] = None,
    ) -> None:
        """`publication_numbers`: where publication ids get their number (the service
        shares one among its rooms, so ids stay unique across a room's reopening); `departed`: called
        as each participant is removed (the service's heap pacer counts them, media/heap.py); `turns`:
        what each renegotiation waits for (media/turns.py; the service shares one among its rooms)."""
        self.id = room_id
        self.config = config
        self.listener = listener
        self.participants: dict[str, MediaParticipant] = {}
        self.pubs: dict[str, Publication] = {}
        self.totals = totals if totals is not None else ForwardTotals()   # what closed copies forwarded
        self.closed = False
        self._sinks: list[_SinkHandle] = []
        self._on_closed = on_closed
        self._departed = departed
        self._speaker = ActiveSpeakerDetector(config.active_speaker_interval)
        self._speaker_timer: Optional[asyncio.TimerHandle] = None
        self._speaker_eval = 0.0
        self._numbers = publication_numbers if publication_numbers is not None else itertools.count(1)
        self.turns = turns if turns is not None else Turns(NEGOTIATIONS_PER_TURN)
        self._log = log.bind(room=room_id)

    # --- events ---

    def _emit(self, event: MediaEvent) -> None:
        if self.listener is None:
            return
        try:
            self.listener(event)
        except Exception:
            self._log.exception("media room listener failed", event=type(event).__name__)

    def _publications_changed(self) -> None:
        self._emit(PublicationsChanged(self.publications_info()))

    # --- participants ---

    def _get(self, participant_id: str) -> MediaParticipant:
        participant = self.participants.get(participant_id)
        if participant is None:
            raise UnknownParticipant(f"no media participant {participant_id!r}")
        return participant

    def add_participant(self, participant_id: str, allowed: frozenset[str], listener: Listener,
                        *, subscribe: bool = True) -> None:
        if self.closed:
            raise WrongState("the media room is closed")
        if participant_id in self.participants:
            raise WrongState(f"participant {participant_id!r} is already in the media room")
        allowed = frozenset(allowed) & PERMISSIONS
        participant = MediaParticipant(self, self.id, self.config, participant_id, allowed, listener, self.turns,
                                       receives=subscribe)
        self.participants[participant_id] = participant
        self._log.info("participant added", participant=participant_id, allowed=sorted(allowed), subscribe=subscribe)
        participant.mark_dirty()

    def has_participant(self, participant_id: str) -> bool:
        return participant_id in self.participants

    def set_allowed(self, participant_id: str, allowed: frozenset[str]) -> None:
        """New publish permissions (e.g. after a role change); checked at the next publish."""
        participant = self._get(participant_id)
        allowed = frozenset(allowed) & PERMISSIONS
        if allowed != participant.allowed:
            self._log.info("publish permissions", participant=participant_id,
                           change=f"{sorted(participant.allowed)} -> {sorted(allowed)}")
            participant.allowed = allowed

    async def publish(self, participant_id: str, sdp_offer: str, sources: Mapping[str, str]) -> str:
        return await self._get(participant_id).publish(sdp_offer, sources)

    async def subscribe_answer(self, participant_id: str, sdp: str) -> None:
        await self._get(participant_id).subscribe_answer(sdp)

    async def add_ice_candidate(self, participant_id: str, connection: str, candidate: Mapping[str, Any]) -> None:
        await self._get(participant_id).add_ice_candidate(connection, candidate)

    async def restart_subscriptions(self, participant_id: str) -> None:
        await self._get(participant_id).restart_subscriptions()

    async def remove_participant(self, participant_id: str, reason: str = "left") -> None:
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            return
        self._speaker.silence(participant_id)
        self._log.info("participant removed", participant=participant_id, reason=reason)
        await participant.close()
        if self._departed is not None:
            self._departed()

    # --- publications (ParticipantListener, PublicationListener) ---

    def new_publication_id(self, participant_id: str, source: str) -> str:
        return f"{participant_id}-{source}-{next(self._numbers)}"

    def subscribable(self, subscriber_id: str) -> list[Publication]:
        return [p for p in self.pubs.values() if p.participant_id != subscriber_id and not p.closed]

    def publications_info(self) -> tuple[PublicationInfo, ...]:
        return tuple(p.info for p in self.pubs.values())

    def publications(self) -> tuple[PublicationInfo, ...]:
        return self.publications_info()

    def publication_added(self, pub: Publication) -> None:
        self.pubs[pub.id] = pub
        for handle in self._sinks:
            self._sink_add(handle, pub)
        for participant in self.participants.values():
            if participant.id != pub.participant_id:
                participant.mark_dirty()
        self._publications_changed()

    def publication_ended(self, pub: Publication) -> None:
        """Renegotiation ended it, its receiver stopped, or its participant left."""
        if self.pubs.pop(pub.id, None) is None:
            return
        owner = self.participants.get(pub.participant_id)
        if owner is not None:
            owner.forget_publication(pub)
        pub.close()
        if pub.kind == "audio":
            self._speaker.silence(pub.participant_id)
        for participant in self.participants.values():
            participant.mark_dirty()
        self._log.info("publication removed", publication=pub.id)
        self._publications_changed()

    def set_muted(self, participant_id: str, source: str, muted: bool) -> bool:
        participant = self._get(participant_id)
        changed = False
        for pub in list(participant.publications.values()):
            if pub.source == source and pub.set_muted(muted):
                changed = True
                if pub.kind == "audio" and muted:
                    self._speaker.silence(participant_id)
                self._log.info("publication muted", publication=pub.id, change=f"{not muted} -> {muted}")
        if changed:
            self._publications_changed()
        return changed

    # --- active speaker ---

    def audio_level(self, participant_id: str, level: int) -> None:
        self._speaker.add(participant_id, level)
        now = time.monotonic()
        if now - self._speaker_eval >= SPEAKER_EVAL_INTERVAL:
            self._speaker_eval = now
            self._check_speaker()

    def _check_speaker(self) -> None:
        self._speaker_timer = None
        if self.closed:
            return
        now = time.monotonic()
        speaker = self._speaker.update(now)
        if speaker is not None:
            self._emit(ActiveSpeaker(speaker))
            return
        delay = self._speaker.next_check(now)
        if delay is not None and self._speaker_timer is None:
            self._speaker_timer = asyncio.get_running_loop().call_later(delay, self._check_speaker)

    # --- recorder sinks ---

    def attach_sink(self, sink: FrameSink, *, want_keyframes: bool = True) -> _SinkHandle:
        if self.closed:
            raise WrongState("the media room is closed")
        handle = _SinkHandle(self, sink, want_keyframes)
        self._sinks.append(handle)
        for pub in self.pubs.values():
            self._sink_add(handle, pub)
        return handle

    def _sink_add(self, handle: _SinkHandle, pub: Publication) -> None:
        handle.sink.on_publication_added(pub.info)
        pub.add_sink(handle.sink)
        if handle.want_keyframes:
            pub.request_keyframe()

    def detach_sink(self, handle: _SinkHandle) -> None:
        if handle in self._sinks:
            self._sinks.remove(handle)
        for pub in self.pubs.values():
            pub.remove_sink(handle.sink)

    # --- lifecycle ---

    async def close(self, reason: str = "closed") -> None:
        if self.closed:
            return
        self.closed = True
        if self._speaker_timer is not None:
            self._speaker_timer.cancel()
            self._speaker_timer = None
        for pid in list(self.participants):
            await self.remove_participant(pid, reason)
        for handle in list(self._sinks):
            handle.detach()
            closed_hook = getattr(handle.sink, "on_room_closed", None)  # optional (recorder)
            if closed_hook is not None:
                try:
                    closed_hook(reason)
                except Exception:
                    self._log.exception("frame sink failed", hook="on_room_closed")
        self._log.info("media room closed", reason=reason)
        self._on_closed(self)
