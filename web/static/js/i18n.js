// The room page's languages (docs/client.md "Languages"): one catalog per language in strings/
// (en is the reference; every catalog has the same keys), `t(key, params)` for the text of a key
// in the page's language, and `translatePage()` for room.html's static text (data-i18n,
// data-i18n-title, -aria-label, -placeholder). The language is the `lang` URL parameter (which
// <antechamber-room lang> passes on), else the first of the browser's languages we have, else English.
import en from "./strings/en.js";
import es from "./strings/es.js";

export const CATALOGS = Object.freeze({ en, es });
export const LANGUAGES = Object.freeze(Object.keys(CATALOGS));
const ATTRIBUTES = ["title", "aria-label", "placeholder"];

let current = "en";

const base = (tag) => String(tag || "").toLowerCase().split(/[-_]/)[0];

/** The language for a `lang` parameter (or null) and the browser's preferred languages. */
export function pickLanguage(param, preferred = []) {
  for (const tag of [param, ...preferred]) if (CATALOGS[base(tag)]) return base(tag);
  return "en";
}

/** Use `lang` from now on (an unknown one means English); sets <html lang>. */
export function setLanguage(lang) {
  current = CATALOGS[lang] ? lang : "en";
  if (typeof document !== "undefined") document.documentElement.lang = current;
  return current;
}

export const language = () => current;

/** The text of `key` in the page's language, `{name}` replaced by `params.name`. */
export function t(key, params = {}) {
  const text = CATALOGS[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fill the static text of `root` from its data-i18n attributes. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
  }
}

if (typeof window !== "undefined") {
  setLanguage(pickLanguage(new URLSearchParams(window.location.search).get("lang"), navigator.languages || [navigator.language]));
}
