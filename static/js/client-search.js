// Search-as-you-type for the proposal list's client filter (an ARIA 1.2 combobox).
// Without JavaScript the box is a plain text field: the typed name is submitted and the page
// resolves it (or offers the clients it matches). With it, suggestions come from
// /app/clients/search as you type; picking one fills the hidden client id.
// Keys: ↓/↑ move through the suggestions, Enter picks (Enter again filters), Escape closes
// (then clears), Tab leaves.
(function () {
  "use strict";
  var root = document.querySelector("[data-client-search]");
  if (!root || !window.fetch) return;
  var input = root.querySelector('input[type="search"]');
  var hidden = root.querySelector("[data-client-id]");
  var listbox = root.querySelector('[role="listbox"]');
  var status = root.querySelector("[data-client-status]");
  var url = root.getAttribute("data-url");
  var DELAY = 150;
  var timer = null;
  var seq = 0; // only the answer to the latest request is shown
  var options = [];
  var active = -1;
  var picked = input.value; // the name that goes with the hidden id

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(i) {
    if (!options.length) return;
    active = (i + options.length) % options.length;
    options.forEach(function (el, n) {
      el.setAttribute("aria-selected", n === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  }

  function pick(el) {
    input.value = el.getAttribute("data-name");
    hidden.value = el.getAttribute("data-id");
    picked = input.value;
    close();
    // No automatic submit (a pick is not a page change, WCAG 3.2.2): Enter or Filter applies it.
    status.textContent = input.value + " chosen; press Enter to filter.";
  }

  function render(results) {
    listbox.textContent = "";
    options = results.map(function (client, n) {
      var li = document.createElement("li");
      li.id = listbox.id + "-" + n;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.setAttribute("data-id", String(client.id));
      li.setAttribute("data-name", client.name);
      var name = document.createElement("span");
      name.className = "client-option-name";
      name.textContent = client.name;
      var more = document.createElement("span");
      more.className = "client-option-more";
      more.textContent = client.email + (client.company ? " · " + client.company : "");
      li.appendChild(name);
      li.appendChild(more);
      // mousedown, not click: it comes before the input's blur closes the list.
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();
        pick(li);
      });
      listbox.appendChild(li);
      return li;
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (options.length) {
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent =
        options.length + (options.length === 1 ? " client" : " clients") + " found; use the arrow keys to choose.";
    } else {
      close();
      status.textContent = "No client starts with that.";
    }
  }

  function search() {
    var term = input.value.trim();
    var mine = ++seq;
    if (!term) {
      close();
      status.textContent = "";
      return;
    }
    fetch(url + "?q=" + encodeURIComponent(term), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        if (mine === seq && document.activeElement === input) render(data.results || []);
      })
      .catch(function () {
        // The plain form still works: the typed text is resolved when it is submitted.
        if (mine === seq) close();
      });
  }

  input.addEventListener("input", function () {
    // Typing changes the choice: the id no longer goes with the text.
    if (input.value !== picked) hidden.value = "";
    clearTimeout(timer);
    timer = setTimeout(search, DELAY);
  });

  input.addEventListener("keydown", function (event) {
    var open = !listbox.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (open) setActive(active + 1);
      else search();
    } else if (event.key === "ArrowUp") {
      if (open) {
        event.preventDefault();
        setActive(active - 1);
      }
    } else if (event.key === "Enter") {
      if (open && active >= 0) {
        event.preventDefault();
        pick(options[active]);
      }
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        close();
      } else if (input.value) {
        event.preventDefault();
        input.value = "";
        hidden.value = "";
        picked = "";
      }
    } else if (event.key === "Tab") {
      close();
    }
  });

  input.addEventListener("blur", function () {
    close();
  });
})();
