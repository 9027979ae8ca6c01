// Guarded web storage: inside a cross-site iframe Chromium may deny `localStorage` (reading the
// property throws a SecurityError), and private modes may refuse writes. Every room-page access
// goes through here: a denied storage reads as empty and writes are dropped.
const NAME_KEY = "antechamber.displayName";

function store() {
  try { return window.localStorage || null; } catch { return null; }
}

/** The stored text for `key`, or "" when there is none or storage is denied. */
export function getItem(key) {
  try { return store()?.getItem(key) || ""; } catch { return ""; }
}

/** Store `value` under `key`; false when storage is denied or full. */
export function setItem(key, value) {
  try { store()?.setItem(key, value); return Boolean(store()); } catch { return false; }
}

export const storedName = () => getItem(NAME_KEY);
export const storeName = (name) => setItem(NAME_KEY, name);
