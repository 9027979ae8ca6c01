// The room page's flow: join + device check -> (waiting room) -> meeting -> end, and the
// reconnect with backoff. Talks the protocol of docs/protocol.md over the app's signaling
// connection; `listen()` attaches its signaling and window handlers, `begin()` shows the
// first view.
import { $, toast } from "./dom.js";
import { icon } from "./icons.js";
import { SERVER, msg } from "./protocol.js";
import { backoffDelay } from "./signaling.js";
import { MediaSession } from "./media-session.js";
import { ROLE_NAMES } from "./room-link.js";
import { showEnd } from "./end-view.js";
import { describeJoinError } from "./join-errors.js";
import { earlyEndReason } from "./room-state.js";
import { t } from "./i18n.js";
import { storedName, storeName } from "./storage.js";

/** Show one view of the room page (join | waiting | meeting | end). */
function show(view) {
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

const setConnStatus = (text) => { $("#conn-status").textContent = text || ""; };

/** The flow of one room page; app: the room page's app object (see room-page.js). */
export function createRoomFlow(app) {
  const { link: { roomSlug, key, linkRole }, signaling, local, state, meeting, knocks, deviceCheck, waiting } = app;
  const { notice, applyPermissions, applyRoom, setRecording, updateControls } = app.controls;

  // ---------- join view ----------
  function showJoinView() {
    document.title = t("page.titleRoom", { room: roomSlug });
    // Until joined, the page knows only the slug (shown in the card); the real name comes with `joined`.
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, () => local.ensureAudioContext(), { once: true, capture: true });
    }
    $("#join-room").textContent = roomSlug;
    $("#preview-off-icon").replaceChildren(icon("camOff"));
    $("#join-role").textContent = t(ROLE_NAMES[linkRole]);
    $("#join-role").classList.toggle("host", linkRole === "host");
    $("#join-role").classList.toggle("viewer", linkRole === "viewer");
    $("#role-pill").textContent = t(ROLE_NAMES[linkRole]);
    $("#role-pill").classList.toggle("host", linkRole === "host");
    $("#join-hint").textContent = t({
      host: "join.hintHost", viewer: "join.hintViewer", member: "join.hintMember", guest: "join.hintGuest",
    }[linkRole]);
    const name = $("#display-name");
    name.value = name.value || storedName(); // keep what was typed or autofilled meanwhile
    if (linkRole === "viewer") {
      $("#device-panel").hidden = true;
    } else {
      deviceCheck.start();
    }
    $("#join-form").addEventListener("submit", (event) => { event.preventDefault(); startJoin(); });
    show("join");
    $("#join").disabled = false; // disabled in the HTML until this script is ready
    (name.value ? $("#join") : name).focus();
  }

  async function startJoin() {
    const name = $("#display-name").value.trim();
    const error = $("#join-error");
    if (!name) {
      error.textContent = t("join.nameMissing");
      error.hidden = false;
      $("#display-name").focus();
      return;
    }
    error.hidden = true;
    storeName(name);
    state.displayName = name;
    local.ensureAudioContext(); // created on this click: the knock sound and meter may play
    $("#join").disabled = true;
    $("#join").textContent = t("join.joining");
    // Join with the devices the user sees: wait for the camera/microphone to finish starting
    // (bounded, so an unanswered permission prompt does not block joining).
    if (local.ready) await Promise.race([local.ready.catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
    await connectAndJoin();
  }

  function resetJoinButton() {
    $("#join").disabled = false;
    $("#join").textContent = t("join.button");
  }

  // Our resume token from `joined` (or from our pending `knock_status` while waiting): in this
  // closure's memory only (not in the app object, not in window.antechamber, not in storage).
  // A page reload sends `leave` on pagehide and joins afresh.
  let resumeToken = null;

  async function connectAndJoin() {
    state.phase = state.phase === "join" || state.phase === "ended" ? "connecting" : state.phase;
    try {
      if (!signaling.isOpen) await signaling.open();
    } catch {
      // In a meeting or the waiting room: keep trying. A first join that cannot connect
      // has already been explained on the join view by the close handler.
      if (state.phase === "meeting" || state.phase === "knocking") scheduleReconnect();
      return;
    }
    state.reconnectAttempt = 0;
    setConnStatus("");
    try {
      // Back from a dropped connection: the token (kept in memory only) takes our place back
      // (in the meeting without knocking; in the waiting room the same knock, same place);
      // an expired one is ignored by the server and we join (knock) as usual.
      const resume = state.phase === "meeting" || state.phase === "knocking" ? resumeToken : null;
      await signaling.request(msg.join(roomSlug, state.displayName, key, resume));
    } catch (err) {
      if (err.code === "disconnected") return; // the close handler reconnects
      onJoinError(err);
    }
  }

  function onJoinError(err) {
    if (err.code === "rejected_recently") {
      waiting.show({ state: "rejected", reason: t("waiting.rejectedRecently"), retryAfter: err.retryAfter });
      state.phase = "knocking";
      show("waiting");
      return;
    }
    if (state.phase === "connecting") {
      const error = $("#join-error");
      error.textContent = describeJoinError(err);
      error.hidden = false;
      resetJoinButton();
      state.phase = "join";
      show("join");
      signaling.close();
      return;
    }
    // A rejoin after a reconnect failed: the meeting is gone for us.
    finish(err.code === "room_not_found" ? "room_deleted" : err.code, describeJoinError(err));
  }

  // While waiting, a small mirror of your camera (how the host will see you).
  function showWaitingPreview() {
    const video = $("#waiting-preview");
    const track = local.videoTrack;
    if (track && (!video.srcObject || video.srcObject.getVideoTracks()[0] !== track)) {
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => {});
    }
    video.hidden = !track;
  }

  // ---------- meeting ----------
  function enterMeeting(f) {
    const first = state.phase !== "meeting";
    state.phase = "meeting";
    state.me = { participantId: f.participantId, role: f.role, permissions: f.permissions || {} };
    resumeToken = f.resumeToken || null; // memory only: a reload says `leave` and joins afresh
    state.room = f.room || state.room || {};
    deviceCheck.stop();
    meeting.reset();
    meeting.setMe(state.me);
    meeting.setParticipants(f.participants || []);
    knocks.seen = new Set((f.knocks || []).map((k) => k.knockId));
    applyPermissions();
    knocks.update(f.knocks || []);
    applyRoom();
    setRecording(f.recording || { active: false });
    show("meeting");
    setConnStatus("");
    if (first) toast(t("meeting.joined", { room: state.room.roomName || roomSlug }), { timeout: 2500 });
    startMedia(f);
  }

  function startMedia(f) {
    if (state.media) state.media.close();
    const perms = state.me.permissions;
    const media = new MediaSession(signaling, {
      iceServers: f.iceServers || [],
      iceTransportPolicy: f.iceTransportPolicy || "all",
      allowed: { audio: Boolean(perms.canPublishAudio), video: Boolean(perms.canPublishVideo),
        screen: Boolean(perms.canShareScreen) },
    });
    state.media = media;
    media.addEventListener("remote", (e) => meeting.setRemote(e.detail));
    media.addEventListener("unavailable", () => notice(t("meeting.mediaUnavailable")));
    media.addEventListener("failed", () => {
      if (state.phase !== "meeting") return;
      toast(t("meeting.mediaDropped"), { kind: "error" });
      signaling.close(); // the close handler rejoins and renegotiates
    });
    media.addEventListener("error", (e) => console.warn("media error", e.detail));
    meeting.setLocal({ videoTrack: local.videoTrack, screenTrack: state.screenTrack });
    media.start({ audioTrack: local.audioTrack, videoTrack: local.videoTrack });
    // Tell everyone what is off from the start.
    if (perms.canPublishAudio && !local.audioTrack) signaling.send(msg.setMuted("audio", true));
    if (perms.canPublishVideo && !local.videoTrack) signaling.send(msg.setMuted("video", true));
    updateControls();
  }

  function leaveMeetingMedia() {
    if (state.media) state.media.close();
    state.media = null;
    stopScreen(false);
    meeting.reset();
    knocks.setEnabled(false);
  }

  // Own mute state changed by a host (`mute`): turn the track off locally too.
  function syncOwnMute(p) {
    const muted = p.muted || {};
    if (muted.audio && local.audioTrack) {
      local.stopAudio();
      state.media?.setTrack("microphone", null);
      toast(t("meeting.youWereMuted"), { timeout: 3500 });
    }
    updateControls();
  }

  function finish(reason, message) {
    if (state.phase === "ended") return;
    state.phase = "ended";
    state.lastEnded = reason;
    resumeToken = null;
    clearTimeout(state.reconnectTimer);
    leaveMeetingMedia();
    local.stopAll();
    signaling.close();
    setRecording({ active: false });
    setConnStatus("");
    $("#toasts").replaceChildren();
    showEnd(reason, message);
    show("end");
  }

  // ---------- reconnect ----------
  function scheduleReconnect() {
    if (state.phase === "ended" || state.reconnectTimer) return;
    if (state.media) { state.media.close(); state.media = null; }
    const delay = backoffDelay(state.reconnectAttempt++);
    if (state.reconnectAttempt > 12) {
      finish("connection_lost");
      return;
    }
    setConnStatus(t("conn.lostRetry", { seconds: Math.ceil(delay / 1000) }));
    state.reconnectTimer = setTimeout(async () => {
      state.reconnectTimer = null;
      setConnStatus(t("conn.reconnecting"));
      await connectAndJoin();
    }, delay);
  }

  async function stopScreen(announce = true) {
    const track = state.screenTrack;
    state.screenTrack = null;
    if (track) track.stop();
    if (announce && state.media) {
      await state.media.stopScreen();
      signaling.send(msg.setMuted("screen", true));
    }
    meeting.setLocal({ videoTrack: local.videoTrack, screenTrack: null });
    updateControls();
  }

  // ---------- signaling and window events ----------
  function listen() {
    signaling.on(SERVER.KNOCK_STATUS, (f) => {
      if (f.resumeToken) resumeToken = f.resumeToken; // pending knock: keeps our place if the socket drops
      if (state.phase === "meeting" && f.state === "held") leaveMeetingMedia(); // sent back to the waiting room
      if (f.state === "admitted") {
        waiting.show(f);
        return;
      }
      state.phase = "knocking";
      deviceCheck.stop();
      waiting.show(f);
      showWaitingPreview();
      show("waiting");
    });

    signaling.on(SERVER.JOINED, (f) => enterMeeting(f));

    signaling.on(SERVER.KNOCKS, (f) => knocks.update(f.knocks, f.change));

    signaling.on(SERVER.PARTICIPANT_JOINED, (f) => f.participant && meeting.upsert(f.participant));
    signaling.on(SERVER.PARTICIPANT_UPDATED, (f) => {
      if (!f.participant) return;
      meeting.upsert(f.participant);
      if (state.me && f.participant.participantId === state.me.participantId) syncOwnMute(f.participant);
    });
    signaling.on(SERVER.PARTICIPANT_LEFT, (f) => {
      const name = meeting.displayName(f.participantId);
      meeting.remove(f.participantId);
      if (f.reason === "left" || f.reason === "disconnected") toast(t("meeting.left", { name }), { timeout: 3000 });
    });

    signaling.on(SERVER.PERMISSIONS, (f) => {
      if (!state.me) return;
      state.me.permissions = f.permissions || state.me.permissions;
      if (f.role) state.me.role = f.role;
      applyPermissions();
      toast(t(state.me.role === "host" ? "meeting.nowHost" : "meeting.nowGuest"), { timeout: 3000 });
    });

    signaling.on(SERVER.ROOM_UPDATED, (f) => {
      const wasLocked = state.room && state.room.isLocked;
      state.room = { ...(state.room || {}), ...(f.room || {}) };
      applyRoom();
      if (state.phase === "meeting" && wasLocked !== undefined && wasLocked !== state.room.isLocked) {
        toast(t(state.room.isLocked ? "meeting.locked" : "meeting.unlocked"), { timeout: 3000 });
      }
    });

    signaling.on(SERVER.CHAT, (f) => {
      meeting.addChat(f);
      if ($("#panel-chat").hidden || $("#side").hidden) {
        state.unreadChat += 1;
        $("#chat-badge").hidden = false;
        $("#chat-badge").textContent = String(state.unreadChat);
      }
    });

    signaling.on(SERVER.ACTIVE_SPEAKER, (f) => meeting.setActiveSpeaker(f.participantId));

    signaling.on(SERVER.RECORDING, (f) => setRecording(f));

    signaling.on(SERVER.RECONNECT, () => { // the meeting moves to another node: resume there (token)
      signaling.close(); // a socket we close sends no "close" event: reconnect from here
      state.reconnectAttempt = 0;
      scheduleReconnect();
    });
    // The SFU behind our session changed, the socket stayed: new peer connections, same local tracks.
    signaling.on(SERVER.MEDIA_RESET, (f) => {
      if (state.phase !== "meeting" || !state.media) return;
      startMedia({ ...state.media.options, ...f });
      if (state.screenTrack) state.media.shareScreen(state.screenTrack);
    });
    signaling.on(SERVER.ENDED, (f) => {
      // The server dropped us because our media connection failed: that is a network
      // problem, not a decision. Reconnect by ourselves, as for a dropped websocket.
      if (f.reason === "disconnected" && state.phase === "meeting") {
        resumeToken = null; // the server removed us: our place is gone, join afresh
        toast(t("meeting.connectionDropped"), { kind: "error" });
        signaling.close(); // the server closes it too; start afresh
        scheduleReconnect();
        return;
      }
      finish(f.reason, f.message);
    });

    // Errors that answer no request of ours (e.g. a fire-and-forget message): log, never crash.
    signaling.on(SERVER.ERROR, (f) => { if (f.id === undefined) console.warn("antechamber:", f.code, f.message); });

    signaling.on("close", () => {
      if (state.phase === "knocking" || state.phase === "meeting" || state.phase === "connecting") {
        if (state.phase === "connecting") {
          // Never got in: tell the user rather than spin.
          onJoinError({ code: "disconnected", message: t("meeting.unreachable") });
          return;
        }
        scheduleReconnect();
      }
    });

    // Closing the tab: say goodbye so the others see "left" at once, not a dropped connection.
    window.addEventListener("pagehide", () => {
      if (state.phase === "meeting" || state.phase === "knocking") signaling.send(msg.leave());
    });

    window.addEventListener("online", () => {
      if (state.reconnectTimer) {
        clearTimeout(state.reconnectTimer);
        state.reconnectTimer = null;
        connectAndJoin();
      }
    });
  }

  // ---------- start ----------
  async function begin() { // a room that takes no meetings says so before the preview and name field
    const early = roomSlug ? await earlyEndReason(roomSlug, key) : "room_not_found";
    if (early) {
      state.phase = "ended";
      showEnd(early);
      show("end");
      return;
    }
    showJoinView();
    updateControls();
  }

  return { listen, begin, finish, stopScreen };
}
