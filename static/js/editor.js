// Progressive enhancement for the sections editor: "Add item" / "Add section" add a row in
// place instead of posting the form back. Without JavaScript the buttons post and the server
// re-renders the form with one more row.
(function () {
  "use strict";
  // After a refused submit, take keyboard and screen-reader users to the first problem.
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
  var editor = document.querySelector("[data-editor]");
  if (!editor) return;

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
    root.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (el.type === "checkbox") el.checked = false;
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
  });
})();
