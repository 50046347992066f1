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

/* Compliance findings (templates/_findings.html): a finding's button selects its very
 * characters in the field, so the keyboard reaches what a mark shows; a link from a canvas
 * step (?finding=RULE) opens the editor on that finding. */
(function () {
  "use strict";
  function select(button) {
    const field = document.getElementById(button.dataset.select);
    if (!field) return;
    field.focus();
    field.setSelectionRange(Number(button.dataset.start), Number(button.dataset.end));
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-select]");
    if (button) select(button);
  });
  const wanted = new URLSearchParams(window.location.search).get("finding");
  if (!wanted) return;
  const item = Array.from(document.querySelectorAll(".finding-item")).find((li) => li.dataset.rule === wanted);
  if (!item) return;
  item.classList.add("current");
  const button = item.querySelector("button[data-select]");
  if (button) select(button);
  item.scrollIntoView({ block: "nearest" });
  if (!button) item.focus();
})();
