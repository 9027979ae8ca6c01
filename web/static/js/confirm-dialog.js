// The room page's in-page confirmation (a <dialog>, never window.confirm): "end the meeting for
// everyone" and "remove" ask first. Escape, the Cancel button and a click on the backdrop answer no.
import { $ } from "./dom.js";

/** Ask; resolves true when the user presses the (danger) confirm button, false otherwise. */
export function askConfirm({ title, text = "", confirmLabel }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = confirmLabel;
  return new Promise((resolve) => {
    const answer = (yes) => {
      $("#confirm-ok").onclick = $("#confirm-cancel").onclick = dialog.onclose = dialog.onclick = null;
      if (dialog.open) dialog.close();
      resolve(yes);
    };
    $("#confirm-ok").onclick = () => answer(true);
    $("#confirm-cancel").onclick = () => answer(false);
    dialog.onclose = () => answer(false); // Escape
    dialog.onclick = (event) => { if (event.target === dialog) answer(false); }; // the backdrop
    dialog.showModal();
    $("#confirm-cancel").focus(); // the safe choice has the focus
  });
}
