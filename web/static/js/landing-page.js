// The landing page (index.html): turn a pasted room name or link into a room page visit.
// The one call at the bottom of this file starts it.

/** Where a pasted room name or link leads: a same-origin path, another origin's URL, or /<name>. */
function roomTarget(raw) {
  try {
    const url = new URL(raw, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search : url.href;
  } catch {
    return "/" + encodeURIComponent(raw.replace(/^\/+/, ""));
  }
}

export function startLanding() {
  const form = document.getElementById("join-form");
  const input = document.getElementById("room-link");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const raw = input.value.trim();
    if (!raw) return;
    window.location.assign(roomTarget(raw));
  });
}

startLanding();
