// The room page's side of embedding (docs/embed.md): inside a frame, tell the embedding page what
// happens (events) and carry out its commands, over postMessage with origins checked both ways.
// It listens to what the page already has — the signaling events, the page's state and the view
// shown (body[data-screen]) — so the room page needs no hooks beyond starting it (room-page.js).
// Commands go through the page's buttons or the signaling connection: the server checks each one,
// so an embedding page can do nothing the link's role cannot.
import { $ } from "./dom.js";
import { SERVER, msg } from "./protocol.js";
import { t } from "./i18n.js";

const SOURCE = "antechamber";

/** The embedding page's origin: the element's `embedOrigin`, checked against the real ancestor
 * where the browser tells it (location.ancestorOrigins); null when not framed or they differ. */
function parentOrigin(options) {
  if (window.parent === window) return null;
  const ancestors = window.location.ancestorOrigins;
  const actual = ancestors && ancestors.length ? ancestors[0] : null;
  if (options.embedOrigin && actual && options.embedOrigin !== actual) {
    console.warn("antechamber: embedOrigin is not the embedding page's origin; no events are sent");
    return null;
  }
  return options.embedOrigin || actual;
}

export function startEmbedBridge(app, options) {
  const target = parentOrigin(options);
  if (!target) return null;
  const { signaling, state, link } = app;
  const emit = (name, detail = {}) => window.parent.postMessage({ source: SOURCE, type: "event", name, detail }, target);

  // ---------- events ----------
  let joined = false;
  let left = false;
  const knocksSeen = new Set();
  const mine = { audio: null, video: null, screen: null };
  const leave = (reason) => {
    if (left) return;
    left = true;
    emit("leave", { reason, removed: reason === "kicked" });
  };
  signaling.on(SERVER.JOINED, (f) => {
    left = false;
    const first = !joined;
    joined = true;
    for (const p of f.participants || []) if (p.participantId === f.participantId) Object.assign(mine, p.muted || {});
    if (first) emit("join", { participantId: f.participantId, role: f.role, roomName: (f.room || {}).roomName || link.roomSlug });
    emit("participantupdate", { count: (f.participants || []).length });
  });
  signaling.on(SERVER.KNOCK_STATUS, (f) => {
    if (f.state === "waiting" && !joined) emit("knocking", { state: f.state });
    if (f.state === "rejected") leave("rejected");
  });
  signaling.on(SERVER.KNOCKS, (f) => {
    for (const k of f.knocks || []) {
      if (k.state !== "waiting" || knocksSeen.has(k.knockId)) continue;
      knocksSeen.add(k.knockId);
      emit("knock", { knockId: k.knockId, displayName: k.displayName });
    }
  });
  const participant = (p) => ({ participantId: p.participantId, displayName: p.displayName, role: p.role });
  signaling.on(SERVER.PARTICIPANT_JOINED, (f) => f.participant && emit("participant_join", { participant: participant(f.participant) }));
  signaling.on(SERVER.PARTICIPANT_LEFT, (f) => emit("participant_leave", { participant: { participantId: f.participantId }, reason: f.reason }));
  signaling.on(SERVER.PARTICIPANT_UPDATED, (f) => {
    const p = f.participant;
    if (!p || !state.me || p.participantId !== state.me.participantId) return;
    const muted = p.muted || {};
    for (const [kind, name] of [["audio", "microphone_toggle"], ["video", "camera_toggle"], ["screen", "screenshare_toggle"]]) {
      if (muted[kind] === undefined || muted[kind] === mine[kind]) continue;
      mine[kind] = muted[kind];
      emit(name, { enabled: !muted[kind] });
    }
  });
  signaling.on(SERVER.RECORDING, (f) => emit("recording_status_change", { status: f.active ? "recording" : "stopped", active: Boolean(f.active) }));
  signaling.on(SERVER.MEETING_ENDING, (f) => emit("meeting_ending_soon", { endsAt: f.endsAt }));
  signaling.on(SERVER.ENDED, (f) => { if (f.reason === "meeting_ended") emit("meeting_end", {}); });
  signaling.on("open", () => joined && emit("connection_status_change", { status: "stable" }));
  signaling.on("close", () => joined && state.phase !== "ended" && emit("connection_status_change", { status: "unstable" }));
  // The end view: whatever ended it (left, kicked, meeting_ended, room_deleted, ...).
  new MutationObserver(() => {
    if (document.body.dataset.screen === "end" && (joined || state.phase === "ended")) leave(state.lastEnded || "left");
  }).observe(document.body, { attributes: true, attributeFilter: ["data-screen"] });

  // ---------- commands ----------
  const inMeeting = () => {
    if (state.phase !== "meeting") throw Object.assign(new Error("not in the meeting"), { code: "not_joined" });
  };
  const toggle = (button, on, enabled) => {
    inMeeting();
    const el = $(button);
    if (el.hidden || el.disabled) throw Object.assign(new Error("not allowed here"), { code: "forbidden" });
    if (enabled === undefined || Boolean(enabled) !== on()) el.click();
  };
  const request = (message) => signaling.request(message).then(() => undefined);
  const commands = {
    toggleMicrophone: (enabled) => toggle("#toggle-mic", () => Boolean(app.local.audioTrack), enabled),
    toggleCamera: (enabled) => toggle("#toggle-camera", () => Boolean(app.local.videoTrack), enabled),
    toggleScreenshare: (enabled) => toggle("#share-screen", () => Boolean(state.screenTrack), enabled),
    leaveRoom: () => {
      if (state.phase === "meeting") $("#leave").click();
      else if (state.phase === "knocking") $("#cancel-knock").click();
      else throw Object.assign(new Error("not in the meeting"), { code: "not_joined" });
    },
    endMeeting: () => { inMeeting(); return request(msg.endMeeting()); },
    admitKnock: (knockId) => request(msg.admit(String(knockId))),
    rejectKnock: (knockId, reason) => request(msg.reject(String(knockId), reason ? String(reason) : undefined)),
    holdKnock: (knockId, message) => request(msg.hold(String(knockId), String(message || t("knock.defaultHold")))),
    startRecording: () => { inMeeting(); return request(msg.startRecording()); },
    stopRecording: () => { inMeeting(); return request(msg.stopRecording()); },
    sendChatMessage: (text) => { inMeeting(); return request(msg.chat(String(text))); },
    setDisplayName: (name) => {
      const value = String(name || "").trim().slice(0, 64);
      if (!value) throw Object.assign(new Error("a display name is needed"), { code: "invalid_field" });
      if (state.phase === "join") { $("#display-name").value = value; return undefined; }
      return request(msg.setDisplayName(value));
    },
    join: () => {
      if (state.phase !== "join") throw Object.assign(new Error("already joining"), { code: "conflict" });
      $("#join-form").requestSubmit();
    },
  };
  window.addEventListener("message", async (event) => {
    if (event.source !== window.parent || event.origin !== target) return;
    const data = event.data;
    if (!data || data.source !== SOURCE || data.type !== "command") return;
    const reply = (body) => window.parent.postMessage({ source: SOURCE, type: "result", id: data.id, ...body }, target);
    const run = Object.prototype.hasOwnProperty.call(commands, data.command) ? commands[data.command] : null;
    if (!run) { reply({ ok: false, error: { code: "unknown_command", message: `unknown command ${String(data.command).slice(0, 40)}` } }); return; }
    try {
      await run(...(Array.isArray(data.args) ? data.args : []));
      reply({ ok: true });
    } catch (err) {
      reply({ ok: false, error: { code: err.code || "error", message: err.message || String(err) } });
    }
  });
  // `ready` once the page has started (this runs before app.start(), from room-page.js).
  queueMicrotask(() => emit("ready", { roomName: link.roomSlug, role: link.linkRole }));
  return { emit };
}
