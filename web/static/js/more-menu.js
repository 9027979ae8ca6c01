// The meeting's "more" menu: on a phone (≤ 560 px, app.css) the screen share, settings and host
// controls fold into a popup behind the "more" button so the control bar stays one row; on wider
// screens the menu's box is invisible and its controls sit in the bar. A click on a control in it,
// Escape or a click elsewhere closes it.
import { $ } from "./dom.js";
import { setIcon } from "./icons.js";

export function bindMoreMenu() {
  const bar = $("nav.controls");
  const more = $("#more");
  setIcon(more, "more");
  const setOpen = (open) => {
    bar.classList.toggle("more-open", open);
    more.setAttribute("aria-expanded", String(open));
    more.classList.toggle("active", open);
  };
  more.addEventListener("click", () => setOpen(!bar.classList.contains("more-open")));
  $("#more-menu").addEventListener("click", (event) => { if (event.target.closest("button")) setOpen(false); });
  document.addEventListener("click", (event) => { if (!bar.contains(event.target)) setOpen(false); });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") setOpen(false); });
}
