// The room's branding (docs/embed.md "Branding"): colours and images from GET /{room}/theme
// (server/http/api/appearance.py) as CSS custom properties on the page, so the join, waiting,
// meeting and end views all use them. A `background` URL parameter wins over the theme's.
import { $ } from "./dom.js";

/** Fetch and apply the theme of `roomSlug`; resolves (never rejects) once applied or skipped. */
export async function applyRoomTheme(roomSlug, options) {
  if (!roomSlug) return;
  let theme;
  try {
    const resp = await fetch(`/${encodeURIComponent(roomSlug)}/theme`, { cache: "no-cache" });
    if (!resp.ok) return;
    theme = await resp.json();
  } catch {
    return; // the page's own colours
  }
  const root = document.documentElement;
  for (const [name, value] of Object.entries(theme.colors || {})) {
    if (!/^--[a-z-]+$/.test(name) || typeof value !== "string") continue;
    if (options.background && (name === "--bg" || name === "--bg-sunken")) continue;
    root.style.setProperty(name, value);
  }
  root.dataset.scheme = theme.scheme === "light" ? "light" : "dark";
  const images = theme.images || {};
  const url = (path) => (typeof path === "string" && path.startsWith("/") ? `url("${path}")` : null);
  if (url(images.roomBackground)) { root.style.setProperty("--room-bg-image", url(images.roomBackground)); document.body.dataset.bgImage = ""; }
  if (url(images.knockPageBackground)) { root.style.setProperty("--knock-bg-image", url(images.knockPageBackground)); document.body.dataset.knockImage = ""; }
  if (typeof images.logo === "string" && images.logo.startsWith("/")) {
    const logo = $(".topbar .brand img");
    if (logo) logo.src = images.logo;
  }
  document.body.dataset.themed = "";
}
