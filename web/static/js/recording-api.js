// The recordings API as the recording pages (recordings.html, recording.html) use it: with the
// credential their own link carries (a room key, the room's recording key, or a signed link's
// expires + signature), never an API key, never a cookie, never a referrer.

const KEYS = [["roomKey"], ["recordingKey"], ["expires", "signature"]];

/** The credential in `search` as [[name, value], ...] (empty when the link carries none). */
export function credentialOf(search) {
  const params = new URLSearchParams(search);
  for (const names of KEYS) {
    if (names.every((n) => params.get(n))) return names.map((n) => [n, params.get(n)]);
  }
  return [];
}

/** Helpers bound to one credential: `url(path, extra)`, `call(method, path, extra)`. */
export function recordingApi(credential) {
  const url = (path, extra = {}) => {
    const q = new URLSearchParams(extra);
    for (const [k, v] of credential) q.set(k, v);
    return `/api/v1${path}?${q}`;
  };
  async function call(method, path, extra = {}) {
    const response = await fetch(url(path, extra), { method, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    return body;
  }
  const media = (id, variant) => url(`/recordings/${encodeURIComponent(id)}/media`, { variant });
  const isHost = credential.length === 1 && credential[0][0] === "roomKey";
  return { url, call, media, isHost, query: new URLSearchParams(credential).toString() };
}

/** "1:05" / "1:02:03" for a duration in seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** What the composed video's state means to a viewer. */
export function compositionText(rec) {
  if (rec.composition === "ready") return "";
  if (rec.composition === "pending") return `The video of the meeting is being prepared (${Math.round((rec.compositionProgress || 0) * 100)} %).`;
  if (rec.composition === "failed") return "The video of the meeting could not be prepared; the tracks file can still be downloaded.";
  return rec.status === "complete" ? "No video of the meeting has been prepared yet." : `This recording is ${rec.status}.`;
}

/** An inline "are you sure?" in place of `button`: resolves true on confirm, false on cancel. */
export function confirmInline(button, question, h) {
  return new Promise((resolve) => {
    const done = (answer) => { box.replaceWith(button); resolve(answer); };
    const box = h("span", { class: "confirm-inline", role: "group" }, question, " ",
      h("button", { type: "button", class: "btn-sm btn-danger", dataset: { testid: "confirm" }, onclick: () => done(true) }, "Delete"),
      h("button", { type: "button", class: "btn-sm", dataset: { testid: "cancel" }, onclick: () => done(false) }, "Cancel"));
    button.replaceWith(box);
  });
}
