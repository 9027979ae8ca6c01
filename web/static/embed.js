// <antechamber-room>: embed an Antechamber room in any page (docs/embed.md).
//
//   <script type="module" src="https://meet.example.org/embed.js"></script>
//   <antechamber-room room="https://meet.example.org/abc123?roomKey=..." displayName="Ada" minimal></antechamber-room>
//
// A dependency-free ES module. The element makes an iframe of the room page with the URL
// parameters of its attributes, re-dispatches the page's events as DOM CustomEvents on itself
// (`ready`, `join`, `leave`, `knock`, ...) and has methods for the commands (`toggleMicrophone()`,
// `admitKnock(id)`, ...; each returns a Promise). Messages are only taken from that iframe's
// window and origin, and only sent to that origin; the room page checks ours in turn.

const SOURCE = "antechamber";
// Attributes passed on to the room page as URL parameters (Whereby's names).
const PARAMS = ["displayName", "audio", "video", "precallReview", "minimal", "chat", "people", "screenshare",
  "leaveButton", "recording", "lang", "externalId", "metadata", "background"];
// Whereby's "Nothing (on)" switches: present without a value means on.
const SWITCHES = new Set(["minimal"]);
const COMMANDS = ["toggleMicrophone", "toggleCamera", "toggleScreenshare", "leaveRoom", "endMeeting",
  "admitKnock", "rejectKnock", "holdKnock", "startRecording", "stopRecording", "sendChatMessage",
  "setDisplayName", "join"];
const TIMEOUT_MS = 20000;

function attribute(el, name) {
  // HTML lower-cases attribute names: displayName and displayname are the same attribute.
  return el.getAttribute(name);
}

export class AntechamberRoom extends HTMLElement {
  static get observedAttributes() { return ["room"]; }

  constructor() {
    super();
    this.iframe = null;
    this.origin = null;
    this.pending = new Map();
    this.nextId = 1;
    this.onMessage = (event) => this.receive(event);
  }

  connectedCallback() {
    window.addEventListener("message", this.onMessage);
    this.render();
  }

  disconnectedCallback() {
    window.removeEventListener("message", this.onMessage);
    this.fail({ code: "detached", message: "the element was removed" });
    if (this.iframe) this.iframe.remove();
    this.iframe = null;
  }

  attributeChangedCallback() {
    if (this.isConnected) this.render();
  }

  /** The room page's URL: the `room` link plus the attributes as parameters. */
  roomUrl() {
    const room = attribute(this, "room");
    if (!room) return null;
    let url;
    try {
      url = new URL(room, document.baseURI);
    } catch {
      console.warn("antechamber-room: the room attribute is not a URL");
      return null;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return null;
    for (const name of PARAMS) {
      const value = attribute(this, name);
      if (value === null) continue;
      url.searchParams.set(name, value === "" && SWITCHES.has(name) ? "on" : value);
    }
    url.searchParams.set("embedOrigin", window.location.origin);
    return url;
  }

  render() {
    const url = this.roomUrl();
    if (this.iframe) this.iframe.remove();
    this.iframe = null;
    this.fail({ code: "reloaded", message: "the room was reloaded" });
    if (!url) return;
    this.origin = url.origin;
    const iframe = document.createElement("iframe");
    iframe.allow = "camera; microphone; display-capture; autoplay; fullscreen";
    iframe.allowFullscreen = true;
    iframe.referrerPolicy = "no-referrer";
    iframe.title = attribute(this, "title") || "Video meeting";
    iframe.src = url.href;
    Object.assign(iframe.style, { width: "100%", height: "100%", border: "0", display: "block" });
    // Fills its container unless the page sizes it (an iframe has no height of its own).
    if (!this.style.display) this.style.display = "block";
    if (!this.style.height) this.style.height = "100%";
    if (!this.style.minHeight) this.style.minHeight = "360px";
    this.iframe = iframe;
    this.append(iframe);
  }

  receive(event) {
    if (!this.iframe || event.source !== this.iframe.contentWindow || event.origin !== this.origin) return;
    const data = event.data;
    if (!data || data.source !== SOURCE) return;
    if (data.type === "event" && typeof data.name === "string") {
      this.dispatchEvent(new CustomEvent(data.name, { detail: data.detail ?? null }));
    } else if (data.type === "result" && this.pending.has(data.id)) {
      const { resolve, reject, timer } = this.pending.get(data.id);
      this.pending.delete(data.id);
      clearTimeout(timer);
      if (data.ok) resolve();
      else reject(Object.assign(new Error(data.error?.message || "command failed"), { code: data.error?.code || "error" }));
    }
  }

  fail(error) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(Object.assign(new Error(error.message), { code: error.code }));
    }
    this.pending.clear();
  }

  /** Send a command to the room page; resolves when it was carried out, rejects with {code}. */
  command(name, ...args) {
    if (!this.iframe || !this.iframe.contentWindow) {
      return Promise.reject(Object.assign(new Error("no room is loaded"), { code: "not_ready" }));
    }
    const id = `e${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error("the room did not answer"), { code: "timeout" }));
      }, TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.iframe.contentWindow.postMessage({ source: SOURCE, type: "command", id, command: name, args }, this.origin);
    });
  }
}

for (const name of COMMANDS) {
  AntechamberRoom.prototype[name] = function run(...args) { return this.command(name, ...args); };
}
// OpenVidu Meet's name for leaving
AntechamberRoom.prototype.leave = AntechamberRoom.prototype.leaveRoom;

if (!customElements.get("antechamber-room")) customElements.define("antechamber-room", AntechamberRoom);
