/* The template editor: show only the parts the chosen channel has (an SMS has no subject and
 * no HTML; only a letter has a PDF preview). The server ignores the hidden parts anyway. */
(function () {
  "use strict";
  const channel = document.querySelector(".template-editor select[name='channel']");
  if (!channel) return;
  function follow() {
    for (const part of document.querySelectorAll("[data-not-for]")) {
      part.hidden = part.dataset.notFor === channel.value;
    }
    for (const part of document.querySelectorAll("[data-only-for]")) {
      part.hidden = part.dataset.onlyFor !== channel.value;
    }
  }
  channel.addEventListener("change", follow);
  follow();
})();
