// The parts of the meeting screen that follow state: role and permissions, room lock and
// chat settings, the recording indicator, the side panel and the media buttons.
import { $, toast, setIcon } from "./ui.js";
import { state, local, meeting, knocks } from "./session.js";

export function notice(text) {
  const el = $("#media-notice");
  el.textContent = text;
  el.hidden = !text;
}

export function applyPermissions() {
  const perms = (state.me && state.me.permissions) || {};
  const moderate = Boolean(perms.canKickParticipants);
  for (const el of document.querySelectorAll(".host-only")) el.hidden = !moderate;
  $("#record-toggle").hidden = !perms.canRecord;
  $("#end-meeting").hidden = !perms.canEndMeeting;
  knocks.setEnabled(moderate);
  $("#role-pill").textContent = state.me.role === "host" ? "Host" : state.me.role === "viewer" ? "Viewer" : "Guest";
  $("#role-pill").classList.toggle("host", state.me.role === "host");
  $("#toggle-mic").hidden = !perms.canPublishAudio;
  $("#toggle-camera").hidden = !perms.canPublishVideo;
  $("#share-screen").hidden = !perms.canShareScreen || !navigator.mediaDevices?.getDisplayMedia;
  $("#settings").hidden = !perms.canPublishAudio && !perms.canPublishVideo;
  $("#sep-media").hidden = ["#toggle-mic", "#toggle-camera", "#share-screen"].every((id) => $(id).hidden);
  meeting.setMe(state.me);
  applyRoom();
}

export function applyRoom() {
  const room = state.room || {};
  if (room.roomName) {
    $("#room-title").textContent = room.roomName;
    document.title = `${room.roomName} · Antechamber`;
  }
  $("#lock-pill").hidden = !room.isLocked;
  const lock = $("#lock-toggle");
  lock.setAttribute("aria-pressed", String(Boolean(room.isLocked)));
  lock.setAttribute("aria-label", room.isLocked ? "Unlock the room" : "Lock the room");
  lock.title = lock.getAttribute("aria-label");
  lock.classList.toggle("active", Boolean(room.isLocked));
  setIcon(lock, room.isLocked ? "lock" : "unlock");
  const perms = (state.me && state.me.permissions) || {};
  const chatOn = room.config?.chat?.enabled !== false && perms.canReadChat !== false;
  $("#toggle-chat").hidden = !chatOn;
  $("#chat-form").hidden = !perms.canWriteChat;
  if (!chatOn && !$("#panel-chat").hidden) openSide("people");
}

// `recording {recording: {recordingId, status, ...}}` from the recording module.
export function setRecording(f) {
  const rec = (f && f.recording) || f || {};
  const active = rec.active !== undefined ? Boolean(rec.active) : ["starting", "active"].includes(rec.status);
  if (active !== state.recording && state.phase === "meeting") {
    toast(active ? "This meeting is being recorded." : "Recording stopped.", { timeout: 3500 });
  }
  state.recording = active;
  $("#recording-indicator").hidden = !active;
  const btn = $("#record-toggle");
  btn.setAttribute("aria-pressed", String(active));
  btn.setAttribute("aria-label", active ? "Stop recording" : "Start recording");
  btn.title = btn.getAttribute("aria-label");
  btn.classList.toggle("off", active);
}

export function openSide(tab) {
  const side = $("#side");
  if (tab === null || (!side.hidden && !$(`#panel-${tab}`).hidden)) {
    side.hidden = true;
  } else {
    side.hidden = false;
    for (const name of ["people", "chat"]) {
      $(`#panel-${name}`).hidden = name !== tab;
      $(`#tab-${name}`).setAttribute("aria-selected", String(name === tab));
    }
    if (tab === "chat") {
      state.unreadChat = 0;
      $("#chat-badge").hidden = true;
      $("#chat-input").focus();
    }
  }
  $("#toggle-chat").setAttribute("aria-expanded", String(!side.hidden && !$("#panel-chat").hidden));
  $("#toggle-people").setAttribute("aria-expanded", String(!side.hidden && !$("#panel-people").hidden));
  $("#toggle-chat").classList.toggle("active", !side.hidden && !$("#panel-chat").hidden);
  $("#toggle-people").classList.toggle("active", !side.hidden && !$("#panel-people").hidden);
  meeting.layout();
}

export function updateControls() {
  const mic = $("#toggle-mic");
  const on = Boolean(local.audioTrack);
  mic.classList.toggle("off", !on);
  mic.setAttribute("aria-pressed", String(on));
  mic.setAttribute("aria-label", on ? "Mute microphone" : "Unmute microphone");
  mic.title = mic.getAttribute("aria-label");
  setIcon(mic, on ? "mic" : "micOff");
  const cam = $("#toggle-camera");
  const camOn = Boolean(local.videoTrack);
  cam.classList.toggle("off", !camOn);
  cam.setAttribute("aria-pressed", String(camOn));
  cam.setAttribute("aria-label", camOn ? "Turn camera off" : "Turn camera on");
  cam.title = cam.getAttribute("aria-label");
  setIcon(cam, camOn ? "cam" : "camOff");
  const share = $("#share-screen");
  share.classList.toggle("active", Boolean(state.screenTrack));
  share.setAttribute("aria-pressed", String(Boolean(state.screenTrack)));
  share.setAttribute("aria-label", state.screenTrack ? "Stop sharing your screen" : "Share your screen");
  share.title = share.getAttribute("aria-label");
}
