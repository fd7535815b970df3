// Load a vendored library once, on the pages that need it (scripts swapped in by htmx run out of order);
// the account menu's closing keys; and copy buttons.
window.wmLoadScript = function (src, globalName) {
  "use strict";
  if (window[globalName]) { return Promise.resolve(window[globalName]); }
  window.wmScripts = window.wmScripts || {};
  if (!window.wmScripts[src]) {
    window.wmScripts[src] = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () { resolve(window[globalName]); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }
  return window.wmScripts[src];
};

// The account menu (<details class="menu">) closes like other menus: on Escape, giving focus back to its
// summary, and on a click outside it.
(function () {
  "use strict";
  function openMenus() { return document.querySelectorAll("details.menu[open]"); }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    openMenus().forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) { if (!menu.contains(event.target)) { menu.open = false; } });
  });
})();

// A copy button (data-copy="#field", data-copy-status="#line") puts the field's text on the clipboard and says
// so; where the clipboard is not allowed, the field's text is left selected for Ctrl+C.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.querySelector(button.dataset.copy);
    var status = document.querySelector(button.dataset.copyStatus);
    function say(message) { if (status) { status.textContent = message; } }
    field.focus();
    field.select();
    if (!navigator.clipboard) {
      say("Selected: press Ctrl+C (or ⌘C) to copy it.");
      return;
    }
    navigator.clipboard.writeText(field.value).then(
      function () { say("Copied to the clipboard."); },
      function () { say("Selected: press Ctrl+C (or ⌘C) to copy it."); });
  });
})();
