// The debtor portal's pay form for several invoices: the total follows the ticked boxes.
// Only a convenience: without script the form posts the same fields and the server decides.
(function () {
  "use strict";
  var form = document.getElementById("items-form");
  var out = document.getElementById("items-total");
  if (!form || !out || typeof Intl === "undefined") return;
  var format = new Intl.NumberFormat(form.dataset.lang, {
    style: "currency",
    currency: form.dataset.currency,
  });
  var places = format.resolvedOptions().maximumFractionDigits;

  // Minor units as a decimal string ("14000" -> "140.00"): money never goes through a float.
  function decimal(minor) {
    var digits = String(minor).padStart(places + 1, "0");
    return places ? digits.slice(0, -places) + "." + digits.slice(-places) : digits;
  }

  function update() {
    var minor = 0;
    form.querySelectorAll('input[name="item"]:checked').forEach(function (box) {
      minor += parseInt(box.dataset.amountMinor, 10) || 0;
    });
    out.textContent = format.format(decimal(minor));
  }

  form.addEventListener("change", update);
})();
