// Local camera and microphone: acquire, switch devices, turn on/off, level meter.
// Emits "change" whenever a track appears, disappears or is switched.
import { getItem, setItem } from "./storage.js";
import { t } from "./i18n.js";

const PREFS = "antechamber.devices";

function loadPrefs() {
  try { return JSON.parse(getItem(PREFS)) || {}; } catch { return {}; }
}

function savePrefs(prefs) {
  setItem(PREFS, JSON.stringify(prefs));
}

// The catalog keys (i18n.js) of the device errors: blocked, not found, busy, insecure, failed, fallback.
const MEDIA_ERRORS = Object.freeze({
  mic: ["device.micBlocked", "device.micNotFound", "device.micBusy", "device.micInsecure", "device.micFailed", "device.micFallback"],
  camera: ["device.cameraBlocked", "device.cameraNotFound", "device.cameraBusy", "device.cameraInsecure",
    "device.cameraFailed", "device.cameraFallback"],
});

/** The text for a getUserMedia failure; what: "mic" or "camera". */
export function describeMediaError(err, what) {
  const [blocked, notFound, busy, insecure, failed] = MEDIA_ERRORS[what];
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return t(blocked);
  if (name === "NotFoundError" || name === "OverconstrainedError") return t(notFound);
  if (name === "NotReadableError") return t(busy);
  if (!window.isSecureContext) return t(insecure);
  return t(failed, { error: name || err });
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    const prefs = loadPrefs();
    this.audioDeviceId = prefs.audioDeviceId || "";
    this.videoDeviceId = prefs.videoDeviceId || "";
    this.wantAudio = prefs.wantAudio !== false;
    this.wantVideo = prefs.wantVideo !== false;
    this.audioTrack = null;
    this.videoTrack = null;
    this.errors = { audio: null, video: null };
    this.notice = null; // a device the user picked failed and another one is used (see acquire)
    this.audioContext = null;
    this.analyser = null;
    this.meterSource = null;
  }

  get supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  emitChange() {
    savePrefs({ audioDeviceId: this.audioDeviceId, videoDeviceId: this.videoDeviceId,
      wantAudio: this.wantAudio, wantVideo: this.wantVideo });
    this.dispatchEvent(new Event("change"));
  }

  /** Start whatever the user wants on (a missing device is reported, not thrown). */
  async start() {
    await Promise.all([
      this.wantAudio ? this.startAudio() : null,
      this.wantVideo ? this.startVideo() : null,
    ]);
  }

  async startAudio({ exact = false } = {}) {
    if (!this.supported) { this.errors.audio = t("device.micUnsupported"); return null; }
    const constraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    try {
      const stream = await this.acquire("audio", constraints, this.audioDeviceId, exact);
      this.stopAudio({ silent: true });
      this.audioTrack = stream.getAudioTracks()[0];
      this.audioDeviceId = this.audioTrack.getSettings().deviceId || this.audioDeviceId;
      this.errors.audio = null;
      this.wantAudio = true;
      this.attachMeter();
    } catch (err) {
      this.errors.audio = describeMediaError(err, "mic");
      this.audioTrack = null;
    }
    this.emitChange();
    return this.audioTrack;
  }

  async startVideo({ exact = false } = {}) {
    if (!this.supported) { this.errors.video = t("device.cameraUnsupported"); return null; }
    const constraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
    try {
      const stream = await this.acquire("video", constraints, this.videoDeviceId, exact);
      this.stopVideo({ silent: true });
      this.videoTrack = stream.getVideoTracks()[0];
      this.videoTrack.contentHint = "motion";
      this.videoDeviceId = this.videoTrack.getSettings().deviceId || this.videoDeviceId;
      this.errors.video = null;
      this.wantVideo = true;
    } catch (err) {
      this.errors.video = describeMediaError(err, "camera");
      this.videoTrack = null;
    }
    this.emitChange();
    return this.videoTrack;
  }

  /**
   * getUserMedia for one kind. The device the user picked (`exact`) or the remembered one (`ideal`);
   * if a picked device fails, fall back to any device of that kind and say so in `this.notice`
   * (the join view shows it, the meeting toasts it).
   */
  async acquire(kind, constraints, deviceId, exact) {
    const what = kind === "audio" ? "mic" : "camera";
    if (!deviceId) return navigator.mediaDevices.getUserMedia({ [kind]: constraints });
    try {
      return await navigator.mediaDevices.getUserMedia({ [kind]: { ...constraints, deviceId: exact ? { exact: deviceId } : { ideal: deviceId } } });
    } catch (err) {
      if (!exact || err.name === "NotAllowedError" || err.name === "SecurityError") throw err;
      const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
      const track = stream.getTracks()[0];
      const other = t(kind === "audio" ? "device.anotherMic" : "device.anotherCamera");
      this.notice = t(MEDIA_ERRORS[what][5], { error: err.name, device: track.label || other });
      return stream;
    }
  }

  stopAudio({ silent = false } = {}) {
    if (this.audioTrack) this.audioTrack.stop();
    this.audioTrack = null;
    if (this.meterSource) { this.meterSource.disconnect(); this.meterSource = null; }
    if (!silent) { this.wantAudio = false; this.emitChange(); }
  }

  stopVideo({ silent = false } = {}) {
    if (this.videoTrack) this.videoTrack.stop();
    this.videoTrack = null;
    if (!silent) { this.wantVideo = false; this.emitChange(); }
  }

  async toggleAudio() {
    if (this.audioTrack) this.stopAudio(); else await this.startAudio();
    return Boolean(this.audioTrack);
  }

  async toggleVideo() {
    if (this.videoTrack) this.stopVideo(); else await this.startVideo();
    return Boolean(this.videoTrack);
  }

  /** The user picked a microphone: exactly that one (or a fallback, with `this.notice` set). */
  async selectAudio(deviceId) {
    this.audioDeviceId = deviceId;
    this.notice = null;
    if (this.audioTrack || this.wantAudio) await this.startAudio({ exact: true }); else this.emitChange();
  }

  /** The user picked a camera: exactly that one (or a fallback, with `this.notice` set). */
  async selectVideo(deviceId) {
    this.videoDeviceId = deviceId;
    this.notice = null;
    if (this.videoTrack || this.wantVideo) await this.startVideo({ exact: true }); else this.emitChange();
  }

  async listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { audio: [], video: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      audio: all.filter((d) => d.kind === "audioinput"),
      video: all.filter((d) => d.kind === "videoinput"),
    };
  }

  /** An AudioContext created on a user gesture; also used for the knock sound. */
  ensureAudioContext() {
    if (!this.audioContext) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.audioContext = new Ctx();
    }
    if (this.audioContext.state === "suspended") this.audioContext.resume().catch(() => {});
    return this.audioContext;
  }

  attachMeter() {
    const ctx = this.ensureAudioContext();
    if (!ctx || !this.audioTrack) return;
    if (!this.analyser) {
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = 512;
    }
    if (this.meterSource) this.meterSource.disconnect();
    this.meterSource = ctx.createMediaStreamSource(new MediaStream([this.audioTrack]));
    this.meterSource.connect(this.analyser);
  }

  /** Microphone level 0..1 (RMS with a little gain), 0 when off. */
  level() {
    if (!this.analyser || !this.audioTrack) return 0;
    const data = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += v * v;
    return Math.min(1, Math.sqrt(sum / data.length) * 4);
  }

  stopAll() {
    this.stopAudio({ silent: true });
    this.stopVideo({ silent: true });
  }
}
