"""A participant's two peer connections: publish (client offers) and
subscribe (server offers, re-offered whenever publications change).

Subscribe renegotiation is one task per participant driven by an event: it
wakes when the room's publications change, brings the transceivers in line,
sends one offer and waits for its answer before looking again. No sleeps.

A participant talks upward only through its `ParticipantListener` (the room
implements it) and the signaling `Listener` it was given; it never imports the
room.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Protocol

import structlog
from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription

from . import aiortc_compat as compat
from .forward import congestion
from .forward.packet import IdleTrack, PacketSubscription
from .ice import prepare_gathering, rtc_configuration, want_loopback
from .inbound import InboundSlot
from .ports import BadDescription, IceFailed, Listener, MediaConfig, NotAllowed, SubscribeOffer, WrongState
from .publication import Publication, PublicationListener
from .sources import assign_sources, codec_allowed, parse_offer
from .turns import Turns

log = structlog.get_logger("media.participant")


class ParticipantListener(PublicationListener, Protocol):
    """What a participant tells (and asks) its room; `MediaRoom` implements it."""

    def new_publication_id(self, participant_id: str, source: str) -> str:
        """A publication id unique within the room (also the msid track id)."""

    def subscribable(self, subscriber_id: str) -> Iterable[Publication]:
        """The publications this participant should receive now."""

    def publication_added(self, publication: Publication) -> None: ...


@dataclass
class Subscription:
    publication: Publication
    transceiver: RTCRtpTransceiver
    forward: PacketSubscription


def codec_capabilities(kind: str, codec: RTCRtpCodecParameters) -> list[Any]:
    """The capability entries that pin a subscribe transceiver to `codec` (+ RTX)."""
    out = []
    for cap in RTCRtpSender.getCapabilities(kind).codecs:
        if cap.mimeType.lower() == codec.mimeType.lower():
            if cap.mimeType.lower() == "video/h264" and cap.parameters.get("profile-level-id") != codec.parameters.get(
                "profile-level-id", cap.parameters.get("profile-level-id")
            ):
                continue
            out.append(cap)
    if kind == "video":
        out += [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() == "video/rtx"]
    return out


def _same_codec(a: RTCRtpCodecParameters, b: Optional[RTCRtpCodecParameters]) -> bool:
    """Could a subscriber of `b` keep decoding `a`? (payload type numbers aside)"""
    if b is None or a.mimeType.lower() != b.mimeType.lower():
        return False
    key = "profile-level-id"
    return a.mimeType.lower() != "video/h264" or a.parameters.get(key) == b.parameters.get(key)


class MediaParticipant:
    def __init__(self, room: ParticipantListener, room_id: str, config: MediaConfig, participant_id: str,
                 allowed: frozenset[str], listener: Listener, turns: Turns, *, receives: bool = True) -> None:
        self.room = room
        self.id = participant_id
        self.allowed = allowed
        self.receives = receives  # False: publish-only (docs/architecture.md "Objects and ownership")
        self.listener = listener  # signaling's: SubscribeOffer, IceFailed
        self.config = config
        self.publish_pc: Optional[RTCPeerConnection] = None
        self.subscribe_pc: Optional[RTCPeerConnection] = None
        self.publications: dict[str, Publication] = {}  # mid -> publication
        self._slots: dict[str, InboundSlot] = {}  # mid -> its receiver's tap (publish connection)
        self.subscriptions: dict[str, Subscription] = {}  # publication id -> subscription
        self.closed = False
        self._loopback = want_loopback(self.config.loopback_candidates)
        self._publish_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._resend = False
        self._answered: Optional[asyncio.Future[None]] = None
        self._early_candidates: dict[str, list[Any]] = {}
        self._turns = turns     # the room's (the service's): what each renegotiation waits for
        self._negotiator = asyncio.ensure_future(self._negotiate_loop())
        self._log = log.bind(room=room_id, participant=participant_id)

    # --- peer connections ---

    def _new_pc(self, name: str) -> RTCPeerConnection:
        pc = compat.new_peer_connection(rtc_configuration(self.config.ice_servers))  # the process's certificate
        state = {"value": "new"}

        @pc.on("connectionstatechange")
        def on_state() -> None:
            old, new = state["value"], pc.connectionState
            state["value"] = new
            self._log.info("peer connection state", connection=name, change=f"{old} -> {new}")
            # failed ICE/DTLS, or the peer closed it (aiortc then closes the connection itself)
            if new in ("failed", "closed") and old != new and not self.closed:
                self._emit(IceFailed(self.id, name))

        return pc

    def _emit(self, event: Any) -> None:
        try:
            self.listener(event)
        except Exception:
            self._log.exception("media listener failed", event=type(event).__name__)

    def _prepare(self, pc: RTCPeerConnection) -> None:
        prepare_gathering(pc, loopback=self._loopback, public_ip=self.config.public_ip, ports=self.config.udp_ports)

    async def add_ice_candidate(self, connection: str, candidate: Optional[Mapping[str, Any]]) -> None:
        pc = self.publish_pc if connection == "publish" else self.subscribe_pc if connection == "subscribe" else None
        if connection not in ("publish", "subscribe"):
            raise BadDescription("connection must be 'publish' or 'subscribe'")
        text = (candidate or {}).get("candidate") if candidate else None
        parsed = None
        if text:
            try:
                parsed = compat.parse_candidate(str(text).removeprefix("candidate:"))
            except Exception:
                raise BadDescription("malformed ICE candidate") from None
            mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")  # type: ignore[union-attr]
            parsed.sdpMid = mid if isinstance(mid, str) else None
            parsed.sdpMLineIndex = index if isinstance(index, int) else (0 if parsed.sdpMid is None else None)
        if pc is None or pc.remoteDescription is None:
            # trickled before the description that it belongs to was applied: keep it for then
            early = self._early_candidates.setdefault(connection, [])
            if len(early) < 64:
                early.append(parsed)
            return
        await self._add_candidate(pc, parsed)

    async def _add_candidate(self, pc: RTCPeerConnection, parsed: Any) -> None:
        try:
            await pc.addIceCandidate(parsed)
        except ValueError:
            pass  # e.g. after end-of-candidates: nothing to do

    async def _flush_candidates(self, connection: str, pc: RTCPeerConnection) -> None:
        for parsed in self._early_candidates.pop(connection, []):
            await self._add_candidate(pc, parsed)

    # --- publish ---

    async def publish(self, sdp: str, labels: Mapping[str, str]) -> str:
        if not self.allowed:
            raise NotAllowed("this participant may not publish (viewers only subscribe)")
        description = parse_offer(sdp)
        mids = assign_sources(description, labels, self.allowed, self.config.video_codecs)
        async with self._publish_lock:
            if self.closed:
                raise WrongState("participant has left")
            if self.publish_pc is None:
                self.publish_pc = self._new_pc("publish")
            pc = self.publish_pc
            if pc.signalingState != "stable":
                raise WrongState("publish connection is mid-negotiation")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:
                raise BadDescription(f"offer rejected: {exc}") from None
            await self._flush_candidates("publish", pc)
            for t in pc.getTransceivers():
                if t.mid is not None and t.mid not in self._slots:
                    self._slots[t.mid] = InboundSlot(t.receiver)  # tapped before it starts
                if t.mid in mids:
                    compat.set_negotiated_codecs(t, self._usable_codecs(compat.negotiated_codecs(t)))
            self._prepare(pc)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            self._apply_publish(pc, mids)
            return pc.localDescription.sdp

    def _apply_publish(self, pc: RTCPeerConnection, mids: Mapping[str, str]) -> None:
        """Bring the publications in line with the negotiated m-lines: a publication
        per sending m-line; one that stopped sending, carries another source or
        changed codec ends (and a new one starts)."""
        added: list[Publication] = []
        for t in pc.getTransceivers():
            current = self.publications.get(t.mid) if t.mid is not None else None
            source = mids.get(t.mid) if t.mid is not None else None
            codec = rtx = None
            if source is not None:
                codecs = compat.negotiated_codecs(t)
                codec = next(c for c in codecs if c.name.lower() != "rtx")
                rtx = next((c.payloadType for c in codecs
                            if c.name.lower() == "rtx" and c.parameters.get("apt") == codec.payloadType), None)
            if current is not None:
                if source == current.source and codec is not None and _same_codec(codec, current.codec):
                    current.with_codec(codec, rtx)  # payload types may be renumbered
                    continue
                self._log.info("publication ended by renegotiation", publication=current.id, mid=t.mid,
                               change=f"{current.source} -> {source or 'not sending'}")
                self.room.publication_ended(current)  # forgets it here and in its slot
            if source is None or codec is None:
                continue
            slot = self._slots[t.mid]
            pub = Publication(self.room.new_publication_id(self.id, source), self.id, source, t.kind, slot,
                              self.config, self.room, getattr(self.room, "totals", None))
            pub.with_codec(codec, rtx)
            self.publications[t.mid] = pub
            slot.attach(pub)
            added.append(pub)
        for pub in added:
            self._log.info("publication added", publication=pub.id, source=pub.source, codec=pub.codec.mimeType)
            self.room.publication_added(pub)

    def _usable_codecs(self, codecs: list[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
        usable = [c for c in codecs if codec_allowed(c.mimeType, c.parameters, self.config.video_codecs)]
        if not usable:
            return codecs
        pts = {c.payloadType for c in usable}
        return usable + [c for c in codecs if c.name.lower() == "rtx" and c.parameters.get("apt") in pts]

    def forget_publication(self, pub: Publication) -> None:
        for mid, p in list(self.publications.items()):
            if p is pub:
                del self.publications[mid]
                slot = self._slots.get(mid)
                if slot is not None:
                    slot.detach(pub)

    # --- subscribe ---

    def mark_dirty(self) -> None:
        self._dirty.set()

    async def restart_subscriptions(self) -> None:
        """Re-send the outstanding offer, or make a fresh one."""
        pc = self.subscribe_pc
        if pc is not None and pc.signalingState == "have-local-offer" and pc.localDescription is not None:
            self._emit(SubscribeOffer(self.id, pc.localDescription.sdp, self._tracks()))
        else:
            self._resend = True
            self._dirty.set()

    async def subscribe_answer(self, sdp: str) -> None:
        pc = self.subscribe_pc
        waiter = self._answered
        if pc is None or waiter is None or pc.signalingState != "have-local-offer":
            raise WrongState("no subscribe offer is outstanding")
        if not isinstance(sdp, str) or not sdp.strip():
            raise BadDescription("the answer is empty")
        self._answered = None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            self._answered = waiter
            raise BadDescription(f"answer rejected: {exc}") from None
        await self._flush_candidates("subscribe", pc)
        if not waiter.done():
            waiter.set_result(None)

    def _tracks(self) -> dict[str, Any]:
        return {s.transceiver.mid: s.publication.info for s in self.subscriptions.values() if s.transceiver.mid}

    async def _negotiate_loop(self) -> None:
        try:
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                if self.closed:
                    return
                changed = await self._sync_subscriptions()
                if not changed and not self._resend:
                    continue
                self._resend = False
                # a join into a room renegotiates everyone's connection: a few per loop iteration
                await self._turns.take()
                pc = self.subscribe_pc
                if self.closed:
                    return
                if pc is None:
                    continue
                self._prepare(pc)
                await pc.setLocalDescription(await pc.createOffer())
                self._answered = asyncio.get_running_loop().create_future()
                self._log.info("subscribe offer", tracks=len(self.subscriptions))
                self._emit(SubscribeOffer(self.id, pc.localDescription.sdp, self._tracks()))
                await self._answered
        except asyncio.CancelledError:
            pass
        except Exception:
            pc = self.subscribe_pc
            pc_closed = pc is not None and compat.is_closed(pc)
            if not self.closed and not pc_closed:
                self._log.exception("subscribe negotiation failed")
            # a connection closed under us (leaving, or the peer went away) ends negotiation

    async def _sync_subscriptions(self) -> bool:
        changed = False
        desired = {p.id: p for p in self.room.subscribable(self.id)} if self.receives else {}
        for pub_id, sub in list(self.subscriptions.items()):
            if pub_id in desired:
                continue
            del self.subscriptions[pub_id]
            sub.publication.remove_subscriber(self.id)  # closes sub.forward: it forgets the publication
            congestion.of(sub.publication).forget(self.id)  # its REMB no longer limits the publisher
            sub.transceiver.direction = "inactive"
            sender = sub.transceiver.sender
            compat.off_remb(sender)
            await sender.stop()
            sender.replaceTrack(None)  # the m-line stays in the SDP, the sender with it
            changed = True
        for pub in desired.values():
            if pub.id in self.subscriptions or pub.codec is None:
                continue
            if self.subscribe_pc is None:
                self.subscribe_pc = self._new_pc("subscribe")
            track = IdleTrack(pub.kind, pub.id)
            t = compat.add_send_only_transceiver(self.subscribe_pc, track)  # no receive-side state
            t.setCodecPreferences(codec_capabilities(pub.kind, pub.codec))
            compat.set_stream_id(t.sender, pub.participant_id)
            forward = PacketSubscription(t.sender, track, pub.codec.name, pub.request_keyframe,
                                         getattr(self.room, "totals", None))
            pub.add_subscriber(self.id, forward)
            compat.on_remb(t.sender, congestion.feed(pub, self.id))  # its REMB limits the publisher's
            self.subscriptions[pub.id] = Subscription(pub, t, forward)
            changed = True
        return changed

    # --- teardown ---

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sub in self.subscriptions.values():
            sub.publication.remove_subscriber(self.id)
            congestion.of(sub.publication).forget(self.id)
        for pub in list(self.publications.values()):
            self.room.publication_ended(pub)
        self.publications.clear()
        self._negotiator.cancel()
        await asyncio.gather(self._negotiator, return_exceptions=True)
        if self._answered is not None and not self._answered.done():
            self._answered.cancel()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await compat.close_peer_connection(pc)   # quiet and complete even while still connecting
        self.subscriptions.clear()
        self._slots.clear()
        self.publish_pc = self.subscribe_pc = None
        self._log.info("participant media closed")
