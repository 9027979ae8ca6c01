// The signaling connection: one websocket to /ws carrying the JSON text frames of
// docs/protocol.md, with request ids, and the reconnect backoff.
import { MERGED, SERVER } from "./protocol.js";

/** An `error` reply from the server. */
export class SignalingError extends Error {
  constructor(frame) {
    super(frame.message || frame.code || "error");
    this.code = frame.code || "error";
    this.field = frame.field;
    this.retryAfter = frame.retryAfter;
  }
}

/**
 * One websocket to /ws. Emits every server frame as an event named after its
 * type (detail = the frame), plus "open" and "close" (detail = {code, reason}).
 * `request()` sends a message with an id and resolves with the reply that
 * echoes it (or rejects with a SignalingError).
 */
export class Signaling extends EventTarget {
  constructor(url = Signaling.defaultUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
  }

  static defaultUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}/ws`;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Open the socket; resolves once open, rejects if it closes first. */
  open() {
    this.close();
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.addEventListener("open", () => {
        opened = true;
        this.emit("open", {});
        resolve();
      });
      ws.addEventListener("message", (event) => this.receive(event.data));
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return; // an older socket we replaced
        this.ws = null;
        for (const { reject: fail, timer } of this.pending.values()) {
          clearTimeout(timer);
          fail(new SignalingError({ code: "disconnected", message: "connection lost" }));
        }
        this.pending.clear();
        if (!opened) reject(new Error("could not connect"));
        this.emit("close", { code: event.code, reason: event.reason, wasOpen: opened });
      });
    });
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, "bye"); } catch { /* already closed */ }
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  on(type, handler) {
    this.addEventListener(type, (event) => handler(event.detail));
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      console.warn("antechamber: ignoring a frame that is not JSON");
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.id !== undefined && this.pending.has(frame.id)) {
      const { resolve, reject, timer } = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      clearTimeout(timer);
      if (frame.type === SERVER.ERROR) reject(new SignalingError(frame));
      else resolve(frame);
    }
    const single = Object.hasOwn(MERGED, frame.type) ? MERGED[frame.type] : null;
    if (single && Array.isArray(frame.participants)) {
      // a backed-up connection's roster changes in one frame (docs/protocol.md): one event each
      for (const part of frame.participants) {
        if (part && typeof part === "object") this.emit(single, { ...part, type: single });
      }
      return;
    }
    this.emit(frame.type, frame);
  }

  /** Fire and forget. Returns false when the socket is not open. */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send with an id and wait for the reply that echoes it. */
  request(message, { timeout = 15000 } = {}) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new SignalingError({ code: "disconnected", message: "not connected" }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError({ code: "timeout", message: "the server did not answer" }));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 15 s. */
export function backoffDelay(attempt) {
  const base = Math.min(15000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
