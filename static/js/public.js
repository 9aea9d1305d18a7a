// Live totals on the client's proposal page: ticking an optional item updates the totals at
// once. The server computed every line (rounded to the currency's minor units); this only adds
// the included lines up, in integer minor units, so it shows exactly what the server will
// compute. Without JavaScript the "Update total" button asks the server instead.
(function () {
  "use strict";
  // After a refused submit, take keyboard and screen-reader users to the first problem.
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
  // A refused answer is shown at the /accept or /decline address it was posted to; put the
  // page's own address in the bar so a reload or a bookmark opens the page, not a re-post.
  var page = document.querySelector("[data-page-url]");
  var canonical = page && page.getAttribute("data-page-url");
  if (canonical && window.history.replaceState && window.location.pathname !== canonical) {
    window.history.replaceState(null, "", canonical);
  }
  var form = document.querySelector("[data-totals-form]");
  if (!form) return;
  var currency = form.getAttribute("data-currency");
  var minor = parseInt(form.getAttribute("data-minor"), 10) || 0;
  var scale = Math.pow(10, minor);
  var button = form.querySelector("[data-update-total]");
  if (button) button.hidden = true;

  function toMinor(text) {
    var parts = String(text || "0").trim().split(".");
    var whole = parseInt(parts[0] || "0", 10) || 0;
    var frac = ((parts[1] || "") + "0000000000").slice(0, minor);
    return whole * scale + (minor ? parseInt(frac, 10) : 0);
  }

  // As the server's money filter writes it (common/money.py): the page's locale, CLDR data.
  var locale = form.getAttribute("data-locale") || "en-US";
  function format(amount) {
    var options = { minimumFractionDigits: minor, maximumFractionDigits: minor };
    try {
      return new Intl.NumberFormat(locale, Object.assign({ style: "currency", currency: currency }, options))
        .format(amount / scale);
    } catch (e) {
      return currency + " " + (amount / scale).toLocaleString("en-US", options);
    }
  }

  function recompute() {
    var sums = { subtotal: 0, discount: 0, tax: 0, total: 0 };
    form.querySelectorAll("[data-line]").forEach(function (row) {
      var option = row.querySelector("[data-option]");
      var included = option ? option.checked : row.getAttribute("data-included") === "1";
      if (!included) return;
      Object.keys(sums).forEach(function (name) {
        sums[name] += toMinor(row.getAttribute("data-" + name));
      });
    });
    Object.keys(sums).forEach(function (name) {
      var cell = form.querySelector('[data-sum="' + name + '"]');
      if (cell) cell.textContent = format(sums[name]);
    });
    schedule(sums.total);
    // Shown as the server's discount_line tag shows it: only when a discount counts.
    var discountLine = form.querySelector("[data-discount-line]");
    if (discountLine) discountLine.hidden = sums.discount === 0;
  }

  // The payment schedule for the new total, as proposals/schedule.py resolves it: each
  // percentage rounded half-up to minor units (never past what is left), a fixed amount as
  // it is, the last part the rest. BigInt: a total in minor units times a percentage in
  // hundredths can pass 2^53.
  function schedule(total) {
    var rows = form.querySelectorAll("[data-payment]");
    var remaining = BigInt(total);
    rows.forEach(function (row, index) {
      var type = row.getAttribute("data-type");
      var amount = remaining;
      if (index < rows.length - 1 && type === "percent") {
        var hundredths = BigInt(Math.round(parseFloat(row.getAttribute("data-value")) * 100));
        amount = (BigInt(total) * hundredths * 2n + 10000n) / 20000n;
      } else if (index < rows.length - 1 && type === "fixed") {
        amount = BigInt(toMinor(row.getAttribute("data-value")));
      }
      if (amount > remaining) amount = remaining;
      remaining -= amount;
      var cell = row.querySelector("[data-payment-amount]");
      if (cell) cell.textContent = format(Number(amount));
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-option")) recompute();
  });
})();
