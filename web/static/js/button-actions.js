// What the buttons of the waiting, meeting and end views do (and the meeting's `m` and
// `v` keys, and the device settings dialog); how they look is controls-view.js.
import { $, toast } from "./dom.js";
import { setIcon } from "./icons.js";
import { msg } from "./protocol.js";
import { askConfirm } from "./confirm-dialog.js";
import { bindMoreMenu } from "./more-menu.js";
import { bindShareLinks } from "./share-links.js";
import { t } from "./i18n.js";

/** Attach the buttons' handlers (once, at start); app: the room page's app object. */
export function bindButtons(app) {
  const { link, state, signaling, local, meeting, waiting, flow, act } = app;
  const { openSide, updateControls } = app.controls;

  // ---------- waiting room ----------
  $("#cancel-knock").addEventListener("click", async () => {
    const st = $("#knock-status").dataset.state;
    if (st === "waiting" || st === "held") {
      try {
        await signaling.request(msg.cancelKnock());
      } catch (err) {
        if (err.code !== "no_pending_knock") toast(err.message, { kind: "error" });
      }
      return; // knock_status {state: cancelled} re-renders the view
    }
    flow.finish("left");
  });

  $("#knock-again").addEventListener("click", async () => {
    waiting.show({ state: "waiting", hostPresent: true });
    try {
      await signaling.request(msg.join(link.roomSlug, state.displayName, link.key));
    } catch (err) {
      if (err.code === "rejected_recently") {
        waiting.show({ state: "rejected", reason: t("waiting.rejectedRecently"), retryAfter: err.retryAfter });
      } else {
        flow.finish(err.code, err.message);
      }
    }
  });

  // ---------- meeting controls ----------
  $("#toggle-mic").addEventListener("click", async () => {
    const on = await local.toggleAudio();
    await state.media?.setTrack("microphone", local.audioTrack);
    if (on && local.errors.audio) toast(local.errors.audio, { kind: "error" });
    signaling.send(msg.setMuted("audio", !local.audioTrack));
    updateControls();
  });

  $("#toggle-camera").addEventListener("click", async () => {
    await local.toggleVideo();
    if (!local.videoTrack && local.errors.video) toast(local.errors.video, { kind: "error" });
    await state.media?.setTrack("camera", local.videoTrack);
    signaling.send(msg.setMuted("video", !local.videoTrack));
    meeting.setLocal({ videoTrack: local.videoTrack, screenTrack: state.screenTrack });
    updateControls();
  });

  $("#share-screen").addEventListener("click", async () => {
    if (state.screenTrack) {
      await flow.stopScreen(true);
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    } catch (err) {
      if (err.name !== "NotAllowedError") toast(t("meeting.screenFailed", { error: err.message }), { kind: "error" });
      return;
    }
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail";
    track.addEventListener("ended", () => { if (state.screenTrack === track) flow.stopScreen(true); });
    state.screenTrack = track;
    meeting.setLocal({ videoTrack: local.videoTrack, screenTrack: track });
    updateControls();
    if (state.media && !state.media.unavailable) {
      await state.media.shareScreen(track);
      signaling.send(msg.setMuted("screen", false));
    }
  });

  $("#toggle-chat").addEventListener("click", () => openSide("chat"));
  $("#toggle-people").addEventListener("click", () => openSide("people"));
  $("#tab-people").addEventListener("click", () => openSide("people"));
  $("#tab-chat").addEventListener("click", () => openSide("chat"));
  $("#side-close").addEventListener("click", () => openSide(null));

  $("#chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#chat-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    try {
      await signaling.request(msg.chat(text));
    } catch (err) {
      input.value = text;
      toast(err.message, { kind: "error" });
    }
  });

  $("#lock-toggle").addEventListener("click", () => {
    const locked = Boolean(state.room && state.room.isLocked);
    act(msg.lock(!locked));
  });

  $("#record-toggle").addEventListener("click", async () => {
    const btn = $("#record-toggle");
    btn.disabled = true;
    try {
      await signaling.request(state.recording ? msg.stopRecording() : msg.startRecording());
    } catch (err) {
      toast(err.code === "unknown_type" ? t("meeting.recordingUnavailable") : err.message, { kind: "error" });
    } finally {
      btn.disabled = false;
    }
  });

  $("#leave").addEventListener("click", () => {
    signaling.send(msg.leave());
    flow.finish("left");
  });

  // ---------- device settings during the meeting ----------
  const settings = $("#settings-dialog");
  async function fillSettings() {
    const { audio, video } = await local.listDevices();
    const fill = (select, devices, current, what) => {
      select.replaceChildren(...devices.map((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.textContent = d.label || t(what, { n: i + 1 });
        return o;
      }));
      select.disabled = !devices.length;
      if (current) select.value = current;
    };
    fill($("#settings-mic"), audio, local.audioDeviceId, "device.micNumber");
    fill($("#settings-camera"), video, local.videoDeviceId, "device.cameraNumber");
  }
  $("#settings").addEventListener("click", async () => {
    await fillSettings();
    $("#settings-notice").hidden = true;
    settings.showModal();
  });
  $("#settings-close").addEventListener("click", () => settings.close());
  // A picked device that fails falls back to another one: say so in the dialog, show what is used.
  const afterSwitch = async () => {
    $("#settings-notice").textContent = local.notice || "";
    $("#settings-notice").hidden = !local.notice;
    await fillSettings();
    updateControls();
  };
  $("#settings-mic").addEventListener("change", async (event) => {
    await local.selectAudio(event.target.value);
    await state.media?.setTrack("microphone", local.audioTrack);
    await afterSwitch();
  });
  $("#settings-camera").addEventListener("change", async (event) => {
    await local.selectVideo(event.target.value);
    await state.media?.setTrack("camera", local.videoTrack);
    meeting.setLocal({ videoTrack: local.videoTrack, screenTrack: state.screenTrack });
    await afterSwitch();
  });

  $("#end-meeting").addEventListener("click", async () => {
    const yes = await askConfirm({ title: t("controls.endTitle"),
      text: t("controls.endText"), confirmLabel: t("controls.endConfirm") });
    if (yes) await act(msg.endMeeting());
    // `ended {reason: meeting_ended}` follows and shows the end view.
  });

  // ---------- end view ----------
  $("#rejoin").addEventListener("click", () => window.location.reload());

  // Static icons of the control bar.
  setIcon($("#share-screen"), "screen");
  setIcon($("#settings"), "gear");
  setIcon($("#toggle-chat"), "chat");
  setIcon($("#toggle-people"), "people");
  setIcon($("#record-toggle"), "record");
  setIcon($("#end-meeting"), "end");
  setIcon($("#leave"), "leave");
  $("#leave").append(Object.assign(document.createElement("span"), { className: "label", textContent: t("controls.leaveLabel") }));
  $("#end-meeting").append(Object.assign(document.createElement("span"), { className: "label", textContent: t("controls.endLabel") }));
  bindMoreMenu();
  bindShareLinks();

  // Keyboard shortcuts inside the meeting (ignored while typing).
  document.addEventListener("keydown", (event) => {
    if (state.phase !== "meeting" || event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target && event.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    if (event.key === "m") $("#toggle-mic").click();
    else if (event.key === "v") $("#toggle-camera").click();
  });
}
