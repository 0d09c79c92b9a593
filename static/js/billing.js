// Small helpers for the billing pages; everything works without them.
(function () {
  "use strict";

  // Credits form: typing an amount selects "Another amount" and shows the balance it gives.
  function creditsForm(form) {
    var input = form.querySelector("input[name=custom_amount]");
    var custom = form.querySelector("input[name=amount][value=custom]");
    var after = form.querySelector("[data-testid=balance-after]");
    var balance = parseInt(form.dataset.balanceCents, 10) || 0;
    if (!input || !custom) return;
    var money = function (cents) {
      return (cents / 100).toLocaleString("en-US", { style: "currency", currency: "USD" });
    };
    input.addEventListener("input", function () {
      if (input.value !== "") custom.checked = true;
      var cents = Math.round(parseFloat(input.value) * 100);
      after.textContent = isFinite(cents) && cents > 0 ? "Your balance becomes " + money(balance + cents) + "." : "";
    });
  }

  // Billing page: a link to a day (#day-YYYY-MM-DD) opens that day's lines.
  function openTarget() {
    if (!location.hash) return;
    var el = document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") el.open = true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-testid=credits-form]");
    if (form) creditsForm(form);
    openTarget();
  });
  window.addEventListener("hashchange", openTarget);
})();
