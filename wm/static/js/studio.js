// Studio uploads: drag and drop, several files at once, tus resumable uploads with progress bars,
// pause and resume, and resume after a reload (tus-js-client remembers uploads by file fingerprint).
(function () {
  "use strict";

  function csrfToken() {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function refreshList(zone) {
    if (window.htmx) {
      window.htmx.ajax("GET", zone.dataset.list, { target: "#video-list", swap: "outerHTML" });
    }
  }

  function addUpload(zone, file) {
    var list = zone.querySelector(".upload-list");
    var item = document.createElement("li");
    item.className = "upload-item";
    item.innerHTML = '<span class="name"></span> <progress max="100" value="0"></progress> ' +
      '<span class="percent">0%</span> <button type="button" class="pause">Pause</button> <span class="message"></span>';
    item.querySelector(".name").textContent = file.name;
    list.appendChild(item);
    var bar = item.querySelector("progress"), percent = item.querySelector(".percent");
    var button = item.querySelector(".pause"), message = item.querySelector(".message");
    if (file.size > Number(zone.dataset.max)) {
      message.textContent = "Too large for this server.";
      button.hidden = true;
      return;
    }
    var upload = new window.tus.Upload(file, {
      endpoint: zone.dataset.endpoint,
      chunkSize: Number(zone.dataset.chunk),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      headers: { "X-CSRFToken": csrfToken() },
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      onProgress: function (sent, total) {
        var value = total ? Math.floor(sent / total * 100) : 100;
        bar.value = value;
        percent.textContent = value + "%";
      },
      onSuccess: function () {
        bar.value = 100;
        percent.textContent = "100%";
        message.textContent = "Uploaded; processing starts now.";
        button.hidden = true;
        refreshList(zone);
      },
      onError: function (error) {
        var text = String(error && error.originalResponse ? error.originalResponse.getBody() : error);
        try { text = JSON.parse(text).detail || text; } catch (e) { /* not JSON */ }
        message.textContent = "Upload failed: " + text;
        button.textContent = "Retry";
        button.dataset.paused = "1";
      }
    });
    button.addEventListener("click", function () {
      if (button.dataset.paused) {
        delete button.dataset.paused;
        button.textContent = "Pause";
        message.textContent = "";
        upload.start();
      } else {
        button.dataset.paused = "1";
        button.textContent = "Resume";
        upload.abort();
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        message.textContent = "Resuming an earlier upload of this file.";
      }
      upload.start();
    });
    refreshListSoon(zone);
  }

  function refreshListSoon(zone) {
    window.setTimeout(function () { refreshList(zone); }, 1500);
  }

  function init() {
    var zone = document.querySelector("[data-uploader]");
    if (!zone || zone.dataset.ready) { return; }
    zone.dataset.ready = "1";
    var tusLoaded = window.wmLoadScript(zone.dataset.tusLib, "tus");
    function add(files) {
      Array.prototype.forEach.call(files, function (file) {
        tusLoaded.then(function () { addUpload(zone, file); });
      });
    }
    var input = zone.querySelector("input[type=file]");
    // The files go up through tus, never as a form submission (no inline handler: the CSP forbids them).
    zone.querySelector("form").addEventListener("submit", function (event) { event.preventDefault(); });
    input.addEventListener("change", function () {
      add(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) { add(event.dataTransfer.files); });
  }

  init();
  document.addEventListener("htmx:afterSettle", init);
})();
