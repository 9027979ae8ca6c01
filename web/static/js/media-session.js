// WebRTC with the server's SFU (docs/architecture.md "Objects and ownership", docs/protocol.md):
// - publish connection: the browser offers (`publish {sdp, sources}`), the server answers (`publish_answer`);
// - subscribe connection: the server offers (`subscribe_offer {sdp, tracks}`), the browser answers
//   (`subscribe_answer {sdp}`) and the server re-offers whenever publications come and go.
// ICE servers come only from the `joined` message; there is no public STUN default.
import { msg, SERVER } from "./protocol.js";

/** Turn the server's ICE server list (RTCIceServer objects or URL strings) into RTCIceServer[]. */
export function toIceServers(list) {
  const out = [];
  for (const item of list || []) {
    if (item && typeof item === "object" && item.urls) { out.push(item); continue; }
    if (typeof item !== "string") continue;
    // "turn:user:pass@host:3478?transport=udp" -> {urls: "turn:host:3478?transport=udp", username, credential}
    const m = /^(turns?):([^:@]+):([^@]+)@(.+)$/.exec(item);
    if (m) out.push({ urls: `${m[1]}:${m[4]}`, username: decodeURIComponent(m[2]), credential: decodeURIComponent(m[3]) });
    else out.push({ urls: item });
  }
  return out;
}

const SOURCE_FOR_KIND = Object.freeze({ audio: "microphone", video: "camera" });
// A connection that has started connecting but is not up by then is treated as failed
// (browsers wait ~30 s before saying "failed"); the room then reconnects.
const CONNECT_TIMEOUT_MS = 10000;

export class MediaSession extends EventTarget {
  /**
   * signaling: a Signaling; iceServers, iceTransportPolicy ("all" | "relay"): from `joined`;
   * allowed: {audio, video, screen} publish rights.
   */
  constructor(signaling, { iceServers = [], iceTransportPolicy = "all", allowed = {} } = {}) {
    super();
    this.signaling = signaling;
    this.options = { iceServers, iceTransportPolicy }; // as given: a `media_reset` starts anew with them
    this.config = { iceServers: toIceServers(iceServers), bundlePolicy: "max-bundle",
      iceTransportPolicy: iceTransportPolicy === "relay" ? "relay" : "all" };
    this.allowed = allowed;
    this.pub = null;
    this.sub = null;
    this.transceivers = {}; // source -> RTCRtpTransceiver on the publish connection
    this.stream = new MediaStream();
    this.tracks = {}; // mid -> {participantId, source} from the latest subscribe offer
    this.queues = { publish: Promise.resolve(), subscribe: Promise.resolve() };
    this.closed = false;
    this.unavailable = false;
    this.handlers = [];
    this.listen(SERVER.SUBSCRIBE_OFFER, (f) => this.enqueue(() => this.onSubscribeOffer(f), "subscribe"));
    this.listen(SERVER.ICE, (f) => this.onRemoteIce(f));
  }

  listen(type, fn) {
    const handler = (event) => { if (!this.closed) fn(event.detail); };
    this.signaling.addEventListener(type, handler);
    this.handlers.push([type, handler]);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Serialize negotiations: one offer/answer exchange at a time per connection. */
  enqueue(task, name = "publish") {
    this.queues[name] = this.queues[name].then(task).catch((err) => {
      if (!this.closed) {
        console.warn("antechamber media:", err);
        this.emit("error", err);
      }
    });
    return this.queues[name];
  }

  watch(pc, name) {
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      this.signaling.send(msg.ice(name, c ? c.toJSON() : null));
    });
    let watchdog = null;
    pc.addEventListener("connectionstatechange", () => {
      const now = pc.connectionState;
      this.emit("state", { pc: name, state: now });
      clearTimeout(watchdog);
      if (now === "connecting") {
        watchdog = setTimeout(() => {
          if (pc.connectionState === "connecting" && !this.closed) this.emit("failed", { pc: name, timeout: true });
        }, CONNECT_TIMEOUT_MS);
      }
      if (now === "failed" && !this.closed) this.emit("failed", { pc: name });
    });
  }

  /** Start publishing the given local tracks (null = source off but ready to turn on). */
  start({ audioTrack = null, videoTrack = null } = {}) {
    return this.enqueue(async () => {
      if (!this.allowed.audio && !this.allowed.video) return; // viewers only subscribe
      this.pub = new RTCPeerConnection(this.config);
      this.watch(this.pub, "publish");
      if (this.allowed.audio) this.addSource("microphone", audioTrack, "audio");
      if (this.allowed.video) this.addSource("camera", videoTrack, "video");
      await this.negotiatePublish();
    });
  }

  addSource(source, track, kind) {
    const t = this.pub.addTransceiver(track || kind, { direction: "sendonly", streams: [this.stream] });
    if (kind === "video" && RTCRtpSender.getCapabilities) {
      // Prefer VP8 (what the SFU forwards best); keep H.264 as a fallback.
      const caps = RTCRtpSender.getCapabilities("video");
      if (caps && t.setCodecPreferences) {
        const rank = (c) => (c.mimeType === "video/VP8" ? 0 : c.mimeType === "video/H264" ? 1 : 2);
        const codecs = caps.codecs.filter((c) => rank(c) < 2 || /rtx|red|ulpfec/i.test(c.mimeType));
        codecs.sort((a, b) => rank(a) - rank(b));
        try { t.setCodecPreferences(codecs); } catch { /* keep the browser's order */ }
      }
    }
    this.transceivers[source] = t;
    return t;
  }

  async negotiatePublish() {
    const offer = await this.pub.createOffer();
    await this.pub.setLocalDescription(offer);
    const sources = {};
    for (const [source, t] of Object.entries(this.transceivers)) if (t.mid !== null) sources[t.mid] = source;
    let reply;
    try {
      reply = await this.signaling.request(msg.publish(this.pub.localDescription.sdp, sources), { timeout: 20000 });
    } catch (err) {
      if (err.code === "unknown_type") {
        this.unavailable = true;
        this.pub.close(); // the server has no SFU: stop gathering and sending candidates
        this.emit("unavailable", err);
        return;
      }
      throw err;
    }
    if (reply.type === SERVER.PUBLISH_ANSWER && reply.sdp) {
      await this.pub.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    }
  }

  /** Swap the track of a source (null turns it off without renegotiating). */
  async setTrack(source, track) {
    const t = this.transceivers[source];
    if (!t || this.unavailable || !this.pub || this.pub.signalingState === "closed") return;
    try {
      await t.sender.replaceTrack(track);
    } catch (err) {
      console.warn("antechamber media: could not switch the track", err);
    }
  }

  /** Share a screen track: adds the screen source on first use (renegotiates). */
  shareScreen(track) {
    return this.enqueue(async () => {
      if (!this.pub) throw new Error("not publishing");
      const existing = this.transceivers.screen;
      if (existing) {
        existing.direction = "sendonly";
        await existing.sender.replaceTrack(track);
        if (existing.currentDirection !== "sendonly") await this.negotiatePublish();
        return;
      }
      this.pub.addTransceiver(track, { direction: "sendonly", streams: [new MediaStream([track])] });
      this.transceivers.screen = this.pub.getTransceivers().find((t) => t.sender.track === track);
      await this.negotiatePublish();
    });
  }

  /**
   * Stop sending the screen. The m-line stays (the caller also sends `set_muted screen`),
   * so sharing again is a track swap with no renegotiation. (Setting the m-line inactive
   * and re-activating it later trips the SFU: "receiver already started".)
   */
  async stopScreen() {
    await this.setTrack("screen", null);
  }

  async onSubscribeOffer(frame) {
    if (!this.sub) {
      this.sub = new RTCPeerConnection(this.config);
      this.watch(this.sub, "subscribe");
      this.sub.addEventListener("track", () => this.refreshRemote());
    }
    this.tracks = frame.tracks || {};
    await this.sub.setRemoteDescription({ type: "offer", sdp: frame.sdp });
    const answer = await this.sub.createAnswer();
    await this.sub.setLocalDescription(answer);
    this.signaling.send(msg.subscribeAnswer(this.sub.localDescription.sdp));
    this.refreshRemote();
  }

  /** Work out which remote track belongs to which participant and source; emit "remote". */
  refreshRemote() {
    const byParticipant = new Map();
    if (this.sub) {
      for (const t of this.sub.getTransceivers()) {
        const info = t.mid !== null ? this.tracks[t.mid] : null;
        if (!info || !t.receiver.track || t.currentDirection === "inactive" || t.stopped) continue;
        const pid = info.participantId || info.participant_id;
        const source = info.source || SOURCE_FOR_KIND[t.receiver.track.kind];
        if (!pid) continue;
        if (!byParticipant.has(pid)) byParticipant.set(pid, {});
        byParticipant.get(pid)[source] = t.receiver.track;
      }
    }
    this.remote = byParticipant;
    this.emit("remote", byParticipant);
  }

  async onRemoteIce(frame) {
    const pc = frame.pc === "subscribe" ? this.sub : this.pub;
    if (!pc) return;
    try {
      await pc.addIceCandidate(frame.candidate || null);
    } catch (err) {
      console.warn("antechamber media: bad ICE candidate", err);
    }
  }

  close() {
    this.closed = true;
    for (const [type, handler] of this.handlers) this.signaling.removeEventListener(type, handler);
    this.handlers = [];
    for (const pc of [this.pub, this.sub]) {
      if (pc) try { pc.close(); } catch { /* closed */ }
    }
    this.pub = null;
    this.sub = null;
    this.transceivers = {};
    this.remote = new Map();
  }
}
