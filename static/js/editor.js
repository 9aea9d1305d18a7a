// Progressive enhancement for the proposal and template editors. Without JavaScript every
// part still works by posting the form:
// - "Add item" / "Add section" add a row in place (else the server re-renders with one more);
// - Enter in the catalog search runs the search (without JavaScript it saves, as Enter does);
// - an estimated total follows what is typed, by the server's rules (common/money.py);
// - the introduction and terms get the vendored Trix editor (static/vendor/trix) instead of a
//   raw HTML textarea; the server sanitises whatever is posted (nh3), as before.
(function () {
  "use strict";
  // After a refused submit, take keyboard and screen-reader users to the first problem.
  var invalid = document.querySelector('[aria-invalid="true"]');
  richText();
  if (invalid) invalid.focus();
  var editor = document.querySelector("[data-editor]");
  if (!editor) return;
  var estimate = estimator(editor);

  // Enter in the catalog search searches the catalog; it doesn't save the proposal.
  var catalogQuery = editor.querySelector("[data-catalog-q]");
  if (catalogQuery) {
    catalogQuery.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var search = editor.querySelector("[data-catalog-search]");
      if (search) search.click();
    });
  }

  var ATTRS = ["name", "id", "for", "aria-describedby"];

  function rename(root, from, to) {
    ATTRS.forEach(function (attr) {
      root.querySelectorAll("[" + attr + "]").forEach(function (el) {
        el.setAttribute(attr, el.getAttribute(attr).split(from).join(to));
      });
    });
  }

  function reset(root) {
    root.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    root.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    root.querySelectorAll("[aria-describedby]").forEach(function (el) {
      var ids = el.getAttribute("aria-describedby").split(" ").filter(function (id) {
        return !/-error$/.test(id);
      });
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
      else el.removeAttribute("aria-describedby");
    });
    root.querySelectorAll("[data-line-estimate]").forEach(function (el) { el.textContent = ""; });
    root.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (el.type === "checkbox") el.checked = false;
      else if (el.hasAttribute("data-item-source")) el.value = "";  // a new row is typed by hand
      else if (el.type !== "hidden") el.value = /-quantity$/.test(el.name) ? "1" : "";
    });
  }

  function renumberLegends(section) {
    section.querySelectorAll("[data-item] > legend").forEach(function (legend, i) {
      legend.textContent = "Item " + (i + 1);
    });
  }

  function addItem(section) {
    var s = section.getAttribute("data-section");
    var count = section.querySelector("[data-item-count]");
    var rows = section.querySelector("[data-items]");
    var last = rows.querySelector("[data-item]:last-of-type");
    var n = parseInt(count.value, 10) || 0;
    var row = last.cloneNode(true);
    rename(row, "s-" + s + "-i-" + (n - 1) + "-", "s-" + s + "-i-" + n + "-");
    reset(row);
    rows.appendChild(row);
    count.value = String(n + 1);
    renumberLegends(section);
    var first = row.querySelector("input");
    if (first) first.focus();
  }

  function addSection() {
    var counter = editor.querySelector("[data-section-count]");
    var sections = editor.querySelectorAll("[data-section]");
    var last = sections[sections.length - 1];
    var n = parseInt(counter.value, 10) || sections.length;
    var old = last.getAttribute("data-section");
    var section = last.cloneNode(true);
    var rows = section.querySelectorAll("[data-item]");
    for (var i = 1; i < rows.length; i++) rows[i].remove();
    rename(section, "s-" + old + "-", "s-" + n + "-");
    // The one row left keeps its original index: make it item 0.
    rename(section, "s-" + n + "-i-" + rowIndex(rows[0]) + "-", "s-" + n + "-i-0-");
    section.setAttribute("data-section", String(n));
    section.setAttribute("aria-label", "Section " + (sections.length + 1));
    section.querySelector("[data-item-count]").value = "1";
    section.querySelector("[data-add-item]").value = String(n);
    reset(section);
    last.parentNode.insertBefore(section, last.nextSibling);
    counter.value = String(n + 1);
    renumberLegends(section);
    var first = section.querySelector("input:not([type=hidden])");
    if (first) first.focus();
  }

  function rowIndex(row) {
    var input = row.querySelector("[name*='-i-']");
    var match = input && /-i-(\d+)-/.exec(input.getAttribute("name"));
    return match ? match[1] : 0;
  }

  editor.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-item], [data-add-section]");
    if (!button) return;
    event.preventDefault();
    if (button.hasAttribute("data-add-item")) addItem(button.closest("[data-section]"));
    else addSection();
    estimate();
  });
  var form = editor.closest("form") || editor;
  form.addEventListener("input", estimate);
  form.addEventListener("change", estimate);
  estimate();

  // --- estimated totals -------------------------------------------------------------------
  // The rules of common/money.py in exact integer arithmetic (BigInt): a line is quantity ×
  // unit price rounded half-up to the currency's minor units, less its discount (rounded),
  // plus tax on the discounted amount (rounded); totals are sums of the rounded lines of the
  // included rows (required ones, and optional ones preselected). Numbers are read as the
  // business writes them (the marks the server gives), and anything the server would refuse
  // is not counted rather than guessed.
  function estimator(root) {
    var box = root.querySelector("[data-estimate]");
    if (!box || typeof BigInt !== "function") return function () {};
    var locale = root.getAttribute("data-locale") || "en-US";
    var decimal = root.getAttribute("data-decimal") || ".";
    var group = root.getAttribute("data-group") || ",";
    var spaceGroup = /^[\s\u00a0\u202f]$/.test(group);
    var minorUnits = {};
    try { minorUnits = JSON.parse(root.getAttribute("data-minor-units") || "{}"); } catch (e) { minorUnits = {}; }
    var currencyInput = (root.closest("form") || document).querySelector("select[name=currency]");
    var TEN = BigInt(10);
    box.hidden = false;

    function pow10(n) { var r = BigInt(1); for (var i = 0; i < n; i++) r *= TEN; return r; }

    // Typed text → BigInt scaled by 10^places; "blank", or null when the server would refuse it.
    function read(text, places, max) {
      var raw = String(text == null ? "" : text).trim();
      if (spaceGroup) raw = raw.replace(/[ \u00a0\u202f]/g, group);
      if (raw === "") return "blank";
      var parts = raw.split(decimal);
      if (parts.length > 2) return null;
      var whole = parts[0], frac = parts.length > 1 ? parts[1] : "";
      if (whole.indexOf(group) >= 0) {
        var groups = whole.split(group);
        if (!/^[0-9]{1,3}$/.test(groups[0])) return null;
        for (var g = 1; g < groups.length; g++) if (!/^[0-9]{3}$/.test(groups[g])) return null;
        whole = groups.join("");
      }
      if (!/^[0-9]*$/.test(whole) || !/^[0-9]*$/.test(frac) || whole + frac === "") return null;
      if (frac.length > places) return null;
      var value = BigInt(whole + frac) * pow10(places - frac.length);
      if (max !== undefined && value > max) return null;
      return value;
    }

    // value at scale 10^from → rounded half-up at scale 10^to (to ≤ from, value ≥ 0).
    function round(value, from, to) {
      var d = pow10(from - to);
      return (value + d / BigInt(2)) / d;
    }

    function field(row, suffix) {
      var el = row.querySelector("[name$='-" + suffix + "']");
      if (!el) return null;
      return el.type === "checkbox" ? el.checked : el.value;
    }

    function format(amount, currency, minor) {
      var s = amount.toString();
      while (s.length <= minor) s = "0" + s;
      var text = minor ? s.slice(0, s.length - minor) + "." + s.slice(s.length - minor) : s;
      try {
        return new Intl.NumberFormat(locale, {
          style: "currency", currency: currency,
          minimumFractionDigits: minor, maximumFractionDigits: minor,
        }).format(text);
      } catch (e) {
        return currency + " " + text;
      }
    }

    return function () {
      var currency = (currencyInput && currencyInput.value) || root.getAttribute("data-currency") || "USD";
      var minor = Object.prototype.hasOwnProperty.call(minorUnits, currency) ? minorUnits[currency] : 2;
      var hundredPct = BigInt(100) * pow10(2);
      var sums = { subtotal: BigInt(0), discount: BigInt(0), tax: BigInt(0), total: BigInt(0) };
      var problem = false;
      root.querySelectorAll("[data-item]").forEach(function (row) {
        var out = row.querySelector("[data-line-estimate]");
        var name = (field(row, "name") || "").trim();
        var description = (field(row, "description") || "").trim();
        var priceText = field(row, "unit_price");
        if (!name && !description && !(priceText || "").trim()) { if (out) out.textContent = ""; return; }
        var q = read(field(row, "quantity"), 3);
        var p = read(priceText, 4);
        var d = read(field(row, "discount_percent"), 2, hundredPct);
        var t = read(field(row, "tax_rate"), 2, hundredPct);
        if (q === "blank") q = BigInt(1000);
        if (d === "blank") d = BigInt(0);
        if (t === "blank") t = BigInt(0);
        if (q === null || p === null || p === "blank" || d === null || t === null) {
          problem = true;
          if (out) out.textContent = "Not counted yet: check this row's numbers.";
          return;
        }
        var gross = q * p; // scale 10^7
        var discount = round(gross * d, 11, minor); // × percent (10^2) ÷ 100 (10^2)
        var net = round(gross, 7, minor) - discount;
        var tax = round(net * t, minor + 4, minor);
        var total = net + tax;
        var included = !field(row, "optional") || field(row, "selected");
        if (out) out.textContent = "Line total " + format(total, currency, minor) + (included ? "" : " (optional, not in the total)");
        if (!included) return;
        sums.subtotal += net;
        sums.discount += discount;
        sums.tax += tax;
        sums.total += total;
      });
      Object.keys(sums).forEach(function (key) {
        var cell = box.querySelector('[data-estimate-sum="' + key + '"]');
        if (cell) cell.textContent = format(sums[key], currency, minor);
      });
      // Shown as the server's discount_line tag shows it: only when a discount counts.
      var discountLine = box.querySelector("[data-discount-line]");
      if (discountLine) {
        discountLine.querySelector('[data-sum="discount"]').textContent = format(sums.discount, currency, minor);
        discountLine.hidden = sums.discount === BigInt(0);
      }
      box.querySelector("[data-estimate-problem]").hidden = !problem;
    };
  }
})();

// --- rich text: Trix for textarea[data-rich-text] ---------------------------------------------
function richText() {
  "use strict";
  var Trix = window.Trix;
  var areas = document.querySelectorAll("textarea[data-rich-text]");
  if (!Trix || !areas.length || !window.customElements) return;
  // Only what the server keeps (common/html.py): paragraphs, no file attachments.
  Trix.config.blockAttributes.default.tagName = "p";
  Trix.config.blockAttributes.heading1.tagName = "h3";
  Trix.config.textAttributes.strike.tagName = "s";
  document.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });
  areas.forEach(function (area) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = area.name;
    input.id = area.id + "-html";
    input.value = area.value;
    var trix = document.createElement("trix-editor");
    trix.setAttribute("input", input.id);
    trix.id = area.id;
    trix.className = "rich-editor";
    var label = document.querySelector('label[for="' + area.id + '"]');
    if (label) {
      label.id = label.id || area.id + "-label";
      trix.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { trix.focus(); });
    }
    ["aria-describedby", "aria-invalid"].forEach(function (attr) {
      if (area.hasAttribute(attr)) trix.setAttribute(attr, area.getAttribute(attr));
    });
    area.parentNode.insertBefore(input, area);
    area.parentNode.insertBefore(trix, area);
    area.remove();
  });
}
