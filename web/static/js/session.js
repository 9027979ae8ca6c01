// Shared state of the room page: the signaling connection, local devices, the meeting
// view and the knock panel, plus the room and key taken from the link.
import { $, toast } from "./ui.js";
import { Signaling, msg } from "./protocol.js";
import { LocalMedia } from "./devices.js";
import { MeetingView } from "./meeting.js";
import { KnockPanel } from "./host.js";
import { playKnock } from "./sound.js";

export const NAME_KEY = "antechamber.displayName";
const params = new URLSearchParams(window.location.search);
export const roomSlug = decodeURIComponent(window.location.pathname.replace(/^\/+/, "").split("/")[0] || "");
export const key = params.get("roomKey") || params.get("viewerKey") || params.get("memberKey") || null;
export const linkRole = params.get("roomKey") ? "host" : params.get("viewerKey") ? "viewer"
  : params.get("memberKey") ? "member" : "guest";
export const ROLE_NAMES = { host: "Host", viewer: "Viewer", member: "Member", guest: "Guest" };

export const signaling = new Signaling();
export const local = new LocalMedia();
export const state = {
  phase: "join", // join | connecting | knocking | meeting | ended
  me: null,
  room: null,
  displayName: "",
  media: null,
  screenTrack: null,
  recording: false,
  reconnectAttempt: 0,
  reconnectTimer: null,
  lastEnded: null,
  unreadChat: 0,
  knockSounds: 0,
};
export const meeting = new MeetingView({
  mute: (pid) => act(msg.mute(pid, "audio"), "Muted."),
  kick: (pid) => act(msg.kick(pid), `${meeting.displayName(pid)} was removed.`),
  sendToWaiting: (pid) => act(msg.sendToWaitingRoom(pid, "The host moved you back to the waiting room."),
    `${meeting.displayName(pid)} is back in the waiting room.`),
  promote: (pid) => act(msg.promote(pid), `${meeting.displayName(pid)} is now a host.`),
  demote: (pid) => act(msg.demote(pid), `${meeting.displayName(pid)} is now a guest.`),
});
export const knocks = new KnockPanel(signaling, {
  ring: () => { if (playKnock(local.ensureAudioContext())) state.knockSounds += 1; },
  onChange: (count) => {
    const badge = $("#knock-badge");
    badge.hidden = count === 0;
    badge.textContent = String(count);
    $("#waiting-summary").hidden = count === 0;
    $("#waiting-count").textContent = String(count);
    $("#toggle-people").setAttribute("aria-label", count ? `People (${count} waiting)` : "People");
  },
});
// A handle for tests and debugging (no secrets in it).
window.antechamber = { signaling, state, local, meeting, get media() { return state.media; } };

export async function act(message, done) {
  try {
    await signaling.request(message);
    if (done) toast(done, { timeout: 2500 });
  } catch (err) {
    toast(err.message, { kind: "error" });
  }
}

// ---------- views ----------
export function show(view) {
  let target = null;
  for (const section of document.querySelectorAll("section[data-view]")) {
    const visible = section.dataset.view === view;
    if (visible && section.hidden) target = section; // newly shown
    section.hidden = !visible;
  }
  document.body.dataset.screen = view;
  // Keyboard and screen-reader users land on the new view's main control, not on <body>.
  const focus = target && [...target.querySelectorAll("[data-autofocus]")].find((el) => !el.hidden && !el.disabled);
  if (focus && !target.contains(document.activeElement)) focus.focus();
}

export function setConnStatus(text) {
  $("#conn-status").textContent = text || "";
}

