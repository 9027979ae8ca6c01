// Landing page: turn a pasted room name or link into a room page visit.
const form = document.getElementById("join-form");
const input = document.getElementById("room-link");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const raw = input.value.trim();
  if (!raw) return;
  let target;
  try {
    const url = new URL(raw, window.location.origin);
    target = url.origin === window.location.origin ? url.pathname + url.search : url.href;
  } catch {
    target = "/" + encodeURIComponent(raw.replace(/^\/+/, ""));
  }
  window.location.assign(target);
});
