// Load a vendored library once, on the pages that need it (scripts swapped in by htmx run out of order);
// and the account menu's closing keys.
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
