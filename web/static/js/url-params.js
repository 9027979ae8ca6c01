// The room page's URL parameters (docs/embed.md "URL parameters"), Whereby's names: displayName,
// audio=off, video=off, precallReview=off, minimal, chat=off, people=off, screenshare=off,
// leaveButton=off, recording=off, lang, externalId, metadata, background, and embedOrigin (set by
// the <antechamber-room> element: the page to tell events to). A value that is not valid is
// ignored with a console warning. Parameters only hide or turn off: they never widen permissions
// (the key in the link decides the role; the server checks every request).
import { LANGUAGES } from "./i18n.js";

export { LANGUAGES };
const FEATURES = Object.freeze(["chat", "people", "screenshare", "leaveButton", "recording"]);
const NAME_MAX = 64;
const METADATA_MAX = 256;
const EXTERNAL_ID = /^[A-Za-z0-9_-]{1,36}$/;
const COLOUR = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

function warn(name, value, why) {
  console.warn(`antechamber: URL parameter ${name}=${JSON.stringify(value)} ignored: ${why}`);
}

/** "on"/"off" switches: absent -> fallback; "" or "on" -> true; "off" -> false; else warned. */
function onOff(params, name, fallback) {
  if (!params.has(name)) return fallback;
  const value = params.get(name).toLowerCase();
  if (value === "" || value === "on" || value === "true") return true;
  if (value === "off" || value === "false") return false;
  warn(name, value, 'use "on" or "off"');
  return fallback;
}

function text(params, name, max, pattern) {
  if (!params.has(name)) return null;
  const value = params.get(name).trim();
  if (!value || value.length > max || CONTROL.test(value) || (pattern && !pattern.test(value))) {
    warn(name, value, pattern ? "not an accepted value" : `empty, control characters or over ${max} characters`);
    return null;
  }
  return value;
}

function origin(params) {
  if (!params.has("embedOrigin")) return null;
  const value = params.get("embedOrigin");
  try {
    const url = new URL(value);
    if ((url.protocol === "https:" || url.protocol === "http:") && url.origin === value) return value;
  } catch { /* below */ }
  warn("embedOrigin", value, "not an origin (scheme://host[:port])");
  return null;
}

function background(params) {
  if (!params.has("background")) return null;
  const value = params.get("background").trim();
  if (value === "off" || value === "transparent") return "transparent";
  const m = COLOUR.exec(value);
  if (m) return `#${m[1].toLowerCase()}`;
  warn("background", value, 'use a colour such as "#1d2a3a" or "off"');
  return null;
}

function language(params) {
  if (!params.has("lang")) return null;
  const value = params.get("lang").toLowerCase().split(/[-_]/)[0];
  if (LANGUAGES.includes(value)) return value;
  warn("lang", params.get("lang"), `supported: ${LANGUAGES.join(", ")}`);
  return null;
}

/** The options of a room page's `location` (`window.location`), frozen. */
export function readUrlParams(location) {
  const params = new URLSearchParams(location.search);
  const off = FEATURES.filter((name) => !onOff(params, name, true));
  return Object.freeze({
    displayName: text(params, "displayName", NAME_MAX),
    audio: onOff(params, "audio", true),
    video: onOff(params, "video", true),
    precallReview: onOff(params, "precallReview", true),
    minimal: onOff(params, "minimal", false),
    off: Object.freeze(off), // features hidden: chat, people, screenshare, leaveButton, recording
    lang: language(params),
    externalId: text(params, "externalId", 36, EXTERNAL_ID),
    metadata: text(params, "metadata", METADATA_MAX),
    background: background(params),
    embedOrigin: origin(params),
  });
}
