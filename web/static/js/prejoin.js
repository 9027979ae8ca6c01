// Device check before joining: camera preview, microphone level meter, device
// selection, and turning either off before joining.
import { $, h, setIcon } from "./ui.js";

let meterFrame = 0;
let active = false;
let localRef = null;

function renderButtons(local) {
  const mic = $("#preview-mic");
  const cam = $("#preview-camera");
  const micOn = Boolean(local.audioTrack);
  const camOn = Boolean(local.videoTrack);
  mic.classList.toggle("off", !micOn);
  mic.setAttribute("aria-pressed", String(micOn));
  mic.setAttribute("aria-label", micOn ? "Turn microphone off" : "Turn microphone on");
  mic.title = mic.getAttribute("aria-label");
  setIcon(mic, micOn ? "mic" : "micOff");
  cam.classList.toggle("off", !camOn);
  cam.setAttribute("aria-pressed", String(camOn));
  cam.setAttribute("aria-label", camOn ? "Turn camera off" : "Turn camera on");
  cam.title = cam.getAttribute("aria-label");
  setIcon(cam, camOn ? "cam" : "camOff");

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
  $("#preview-off-text").textContent = local.errors.video || (local.wantVideo ? "Starting camera…" : "Camera is off");

  const errors = [local.errors.audio, local.errors.video].filter(Boolean);
  const box = $("#device-error");
  box.hidden = errors.length === 0;
  box.textContent = errors.join(" ");
}

async function fillSelects(local) {
  const { audio, video } = await local.listDevices();
  const fill = (select, devices, current, what) => {
    const options = devices.map((d, i) => h("option", { value: d.deviceId }, d.label || `${what} ${i + 1}`));
    if (!options.length) options.push(h("option", { value: "" }, `No ${what.toLowerCase()} found`));
    select.replaceChildren(...options);
    select.disabled = !devices.length;
    if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  };
  fill($("#mic-select"), audio, local.audioDeviceId, "Microphone");
  fill($("#camera-select"), video, local.videoDeviceId, "Camera");
}

function meterLoop() {
  if (!active) return;
  const level = localRef.level();
  const meter = $("#mic-meter");
  meter.firstElementChild.style.width = `${Math.round(level * 100)}%`;
  meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  meterFrame = requestAnimationFrame(meterLoop);
}

export function setupDeviceView(local) {
  localRef = local;
  active = true;
  local.addEventListener("change", () => {
    if (!active) return;
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
  navigator.mediaDevices?.addEventListener?.("devicechange", () => active && fillSelects(local));
  renderButtons(local);
  local.ready = local.start().then(() => {
    renderButtons(local);
    fillSelects(local);
  });
  meterFrame = requestAnimationFrame(meterLoop);
}

export function stopDeviceView() {
  active = false;
  cancelAnimationFrame(meterFrame);
  const video = $("#preview-video");
  if (video) video.srcObject = null;
}
