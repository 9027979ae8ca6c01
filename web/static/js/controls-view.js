// How the meeting's controls look: the top bar (room title, role, lock and recording
// pills), which buttons of the control bar show and their state, the side panel, and
// the people button's badge. Follows role and permissions, the room, recording and the
// local tracks; the buttons' actions are in button-actions.js.
import { $, toast } from "./dom.js";
import { setIcon, showToggle } from "./icons.js";
import { showRecordingsLink } from "./recordings-link.js";
import { refreshShareLinks } from "./share-links.js";
import { t } from "./i18n.js";
import { ROLE_NAMES } from "./room-link.js";

/** The controls view of one room page; app: {link, state, local, meeting, knocks}. */
export function createControlsView({ link, state, local, meeting, knocks }) {
  function notice(text) {
    const el = $("#media-notice");
    el.textContent = text;
    el.hidden = !text;
  }

  function applyPermissions() {
    const perms = (state.me && state.me.permissions) || {};
    const moderate = Boolean(perms.canKickParticipants);
    for (const el of document.querySelectorAll(".host-only")) el.hidden = !moderate;
    $("#record-toggle").hidden = !perms.canRecord;
    $("#end-meeting").hidden = !perms.canEndMeeting;
    showRecordingsLink(perms);
    knocks.setEnabled(moderate);
    $("#role-pill").textContent = t(ROLE_NAMES[state.me.role] || ROLE_NAMES.guest);
    $("#role-pill").classList.toggle("host", state.me.role === "host");
    $("#toggle-mic").hidden = !perms.canPublishAudio;
    $("#toggle-camera").hidden = !perms.canPublishVideo;
    $("#share-screen").hidden = !perms.canShareScreen || !navigator.mediaDevices?.getDisplayMedia;
    $("#settings").hidden = !perms.canPublishAudio && !perms.canPublishVideo;
    $("#sep-media").hidden = ["#toggle-mic", "#toggle-camera", "#share-screen"].every((id) => $(id).hidden);
    meeting.setMe(state.me);
    refreshShareLinks(link, perms);
    applyRoom();
  }

  function applyRoom() {
    const room = state.room || {};
    if (room.roomName) {
      $("#room-title").textContent = room.roomName;
      document.title = t("page.titleRoom", { room: room.roomName });
    }
    $("#lock-pill").hidden = !room.isLocked;
    const lock = $("#lock-toggle");
    lock.setAttribute("aria-pressed", String(Boolean(room.isLocked)));
    lock.setAttribute("aria-label", t(room.isLocked ? "controls.unlock" : "controls.lock"));
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
  function setRecording(f) {
    const rec = (f && f.recording) || f || {};
    const active = rec.active !== undefined ? Boolean(rec.active) : ["starting", "active"].includes(rec.status);
    if (active !== state.recording && state.phase === "meeting") {
      toast(t(active ? "meeting.recorded" : "meeting.recordingStopped"), { timeout: 3500 });
    }
    state.recording = active;
    $("#recording-indicator").hidden = !active;
    const btn = $("#record-toggle");
    btn.setAttribute("aria-pressed", String(active));
    btn.setAttribute("aria-label", t(active ? "controls.stopRecord" : "controls.record"));
    btn.title = btn.getAttribute("aria-label");
    btn.classList.toggle("off", active);
  }

  function openSide(tab) {
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

  function updateControls() {
    showToggle($("#toggle-mic"), Boolean(local.audioTrack), [t("controls.mute"), t("controls.unmute")], ["mic", "micOff"]);
    showToggle($("#toggle-camera"), Boolean(local.videoTrack), [t("device.cameraOff"), t("device.cameraOn")], ["cam", "camOff"]);
    const share = $("#share-screen");
    share.classList.toggle("active", Boolean(state.screenTrack));
    share.setAttribute("aria-pressed", String(Boolean(state.screenTrack)));
    share.setAttribute("aria-label", t(state.screenTrack ? "controls.stopShare" : "controls.share"));
    share.title = share.getAttribute("aria-label");
  }

  // The number of knocks waiting (hosts only; 0 otherwise), from the knock panel.
  function setKnockCount(count) {
    const badge = $("#knock-badge");
    badge.hidden = count === 0;
    badge.textContent = String(count);
    $("#waiting-summary").hidden = count === 0;
    $("#waiting-count").textContent = String(count);
    $("#toggle-people").setAttribute("aria-label", count ? t("side.peopleWaiting", { count }) : t("side.people"));
    $("#toggle-people").title = $("#toggle-people").getAttribute("aria-label");
  }

  return { notice, applyPermissions, applyRoom, setRecording, openSide, updateControls, setKnockCount };
}
