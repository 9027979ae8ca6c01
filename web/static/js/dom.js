// DOM helpers shared by every page: the element builder, `$`, toasts, clipboard copy.

/** Build an element: h("button", {class: "x", onclick: fn, dataset: {testid: "y"}}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value; // only ever used with constant icon markup
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

// The toasts' close button's label: a page with another language sets it (room-page.js, i18n.js).
let dismissLabel = "Dismiss";
export const setDismissLabel = (label) => { dismissLabel = label; };

/** Show a short message in the page's toast area; returns a function that removes it. */
export function toast(message, { kind = "info", timeout = 5000, action = null } = {}) {
  const area = document.getElementById("toasts");
  if (!area) return () => {};
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "msg" }, message));
  if (action) {
    el.append(h("button", { type: "button", class: "btn-sm btn-primary",
      onclick: () => { action.run(); remove(); } }, action.label));
  }
  el.append(h("button", { type: "button", class: "btn-sm btn-ghost", "aria-label": dismissLabel,
    onclick: () => remove() }, "✕"));
  area.append(el);
  let timer = timeout ? setTimeout(() => remove(), timeout) : null;
  function remove() {
    if (timer) clearTimeout(timer);
    timer = null;
    el.remove();
  }
  return remove;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API unavailable (plain http on a LAN address): fall back to a selection copy.
    const area = h("textarea", { class: "sr-only", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    area.remove();
    return ok;
  }
}
