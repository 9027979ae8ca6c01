// The join view's device check: camera preview, microphone level meter, device
// selection, and turning either off before joining.
import { $, h } from "./dom.js";
import { showToggle } from "./icons.js";
import { t } from "./i18n.js";

function renderButtons(local) {
  const mic = $("#preview-mic");
  const cam = $("#preview-camera");
  const micOn = Boolean(local.audioTrack);
  const camOn = Boolean(local.videoTrack);
  showToggle(mic, micOn, [t("device.micOff"), t("device.micOn")], ["mic", "micOff"]);
  showToggle(cam, camOn, [t("device.cameraOff"), t("device.cameraOn")], ["cam", "camOff"]);

  const video = $("#preview-video");
  if (camOn) {
    if (!video.srcObject || video.srcObject.getVideoTracks()[0] !== local.videoTrack) {
      video.srcObject = new MediaStream([local.videoTrack]);
      video.play().catch(() => {});
    }
  } else {
    video.srcObject = null;
  }
  video.hidden = !camOn;
  $("#preview-off").hidden = camOn;
  $("#preview-off-text").textContent = local.errors.video || t(local.wantVideo ? "join.cameraStarting" : "join.cameraOff");

  const errors = [local.errors.audio, local.errors.video, local.notice].filter(Boolean);
  const box = $("#device-error");
  box.hidden = errors.length === 0;
  box.textContent = errors.join(" ");
}

async function fillSelects(local) {
  const { audio, video } = await local.listDevices();
  const fill = (select, devices, current, [numbered, none]) => {
    const options = devices.map((d, i) => h("option", { value: d.deviceId }, d.label || t(numbered, { n: i + 1 })));
    if (!options.length) options.push(h("option", { value: "" }, t(none)));
    select.replaceChildren(...options);
    select.disabled = !devices.length;
    if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  };
  fill($("#mic-select"), audio, local.audioDeviceId, ["device.micNumber", "device.noMic"]);
  fill($("#camera-select"), video, local.videoDeviceId, ["device.cameraNumber", "device.noCamera"]);
}

export class DeviceCheck {
  #local;
  #active = false;
  #meterFrame = 0;

  /** local: the page's LocalMedia. */
  constructor(local) {
    this.#local = local;
  }

  #meterLoop = () => {
    if (!this.#active) return;
    const level = this.#local.level();
    const meter = $("#mic-meter");
    meter.firstElementChild.style.width = `${Math.round(level * 100)}%`;
    meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
    this.#meterFrame = requestAnimationFrame(this.#meterLoop);
  };

  /** Wire the device check up and start the camera and microphone (sets `local.ready`). */
  start() {
    const local = this.#local;
    this.#active = true;
    local.addEventListener("change", () => {
      if (!this.#active) return;
      renderButtons(local);
      fillSelects(local);
    });
    $("#preview-mic").addEventListener("click", async () => {
      await local.toggleAudio();
    });
    $("#preview-camera").addEventListener("click", async () => {
      await local.toggleVideo();
    });
    $("#mic-select").addEventListener("change", (e) => local.selectAudio(e.target.value));
    $("#camera-select").addEventListener("change", (e) => local.selectVideo(e.target.value));
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.#active && fillSelects(local));
    renderButtons(local);
    local.ready = local.start().then(() => {
      renderButtons(local);
      fillSelects(local);
    });
    this.#meterFrame = requestAnimationFrame(this.#meterLoop);
  }

  /** Leave the join view: stop the meter and the preview (the tracks stay for the meeting). */
  stop() {
    this.#active = false;
    cancelAnimationFrame(this.#meterFrame);
    const video = $("#preview-video");
    if (video) video.srcObject = null;
  }
}
