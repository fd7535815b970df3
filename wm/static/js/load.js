// Load a vendored library once, on the pages that need it (scripts swapped in by htmx run out of order).
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
