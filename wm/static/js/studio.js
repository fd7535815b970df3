// Studio uploads: drag and drop, several files at once, tus 1.0 resumable uploads with progress bars,
// pause and resume, and resume after a reload. The PATCHes are sized to the measured link speed (a few
// seconds each), so a lost connection, a pause or a reload costs seconds of work, never a big chunk.
(function () {
  "use strict";

  var MIB = 1024 * 1024;
  var CHUNK_SECONDS = 3;
  var MIN_GAP_MS = 100; // at most ~10 requests a second per file: far inside the API's rate limit
  var RETRY_DELAYS = [500, 1000, 3000, 5000, 10000, 20000];

  function csrfToken() {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function base64(text) {
    return window.btoa(String.fromCharCode.apply(null, new TextEncoder().encode(text)));
  }

  function wait(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  function problem(xhr) {
    try { return JSON.parse(xhr.responseText).detail || xhr.statusText; } catch (e) { return xhr.statusText || "no answer"; }
  }

  // One file's upload: create (or find again) the tus upload, then PATCH it piece by piece.
  function Upload(zone, file, item) {
    this.zone = zone;
    this.file = file;
    this.item = item;
    this.key = "wm-upload:" + [zone.dataset.endpoint, file.name, file.size, file.lastModified].join(":");
    this.maxChunk = Math.min(64 * MIB, Number(zone.dataset.maxChunk));
    this.chunk = Math.min(MIB, this.maxChunk);
    this.offset = 0;
    this.running = false;
    this.xhr = null;
  }

  Upload.prototype.request = function (method, url, headers, body, onProgress) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      self.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      if (onProgress) { xhr.upload.onprogress = function (event) { onProgress(event.loaded); }; }
      xhr.onload = function () { self.xhr = null; (xhr.status < 300 ? resolve : reject)(xhr); };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () { self.xhr = null; reject(xhr); };
      xhr.send(body || null);
    });
  };

  Upload.prototype.show = function (text) {
    this.item.querySelector(".message").textContent = text;
  };

  Upload.prototype.progress = function (sent) {
    var value = this.file.size ? Math.floor(sent / this.file.size * 100) : 100;
    this.item.querySelector("progress.sent").value = value;
    this.item.querySelector(".percent").textContent = value + "%";
    this.percent = value;
    if (this.running) { this.showState("Uploading: " + value + "%"); }
  };

  // The video's status lines (its row and its details form) say the server's view, "paused", unless this
  // page is sending it: then they follow the progress bar.
  Upload.prototype.showState = function (text) {
    if (!this.videoId) { return; }
    document.querySelectorAll('[id="status-' + this.videoId + '"] .upload-state').forEach(function (line) {
      line.textContent = text;
    });
  };

  // After the last byte, the status lines and the row ask the server at once (the video is processing now).
  Upload.prototype.refreshStatus = function () {
    if (!window.htmx || !this.videoId) { return; }
    var own = '[id="status-' + this.videoId + '"]';
    // The details form's status line and the whole row (whose status line is part of it).
    document.querySelectorAll(".upload-item " + own + ', [id="video-' + this.videoId + '"]').forEach(function (elt) {
      var url = elt.getAttribute("data-refresh");
      if (url) { window.htmx.ajax("GET", url, { source: elt, target: elt, swap: "outerHTML" }); }
    });
  };

  Upload.prototype.remembered = function () {
    try { return JSON.parse(window.localStorage.getItem(this.key) || "null"); } catch (e) { return null; }
  };

  // Where the upload stands: an earlier one of the same file is resumed at the server's offset.
  Upload.prototype.locate = function () {
    var self = this, earlier = this.remembered();
    if (this.url) {
      return this.request("HEAD", this.url, {}).then(function (xhr) {
        self.offset = Number(xhr.getResponseHeader("Upload-Offset"));
      });
    }
    if (earlier) {
      return this.request("HEAD", earlier.url, {}).then(function (xhr) {
        self.url = earlier.url;
        self.videoId = earlier.videoId;
        self.offset = Number(xhr.getResponseHeader("Upload-Offset"));
        self.progress(self.offset);
        self.resuming = true;
        self.show("Resuming an earlier upload of this file at " + Math.floor(self.offset / self.file.size * 100) + "%.");
      }, function (xhr) {
        if (xhr.status >= 400 && xhr.status < 500) {
          window.localStorage.removeItem(self.key);
          return self.locate();
        }
        throw xhr;
      });
    }
    var metadata = "filename " + base64(this.file.name) + ",filetype " + base64(this.file.type || "application/octet-stream");
    return this.request("POST", this.zone.dataset.endpoint, {
      "Upload-Length": String(this.file.size), "Upload-Metadata": metadata
    }).then(function (xhr) {
      self.url = new URL(xhr.getResponseHeader("Location"), window.location.href).href;
      self.videoId = xhr.getResponseHeader("X-Video-Id");
      self.offset = 0;
      window.localStorage.setItem(self.key, JSON.stringify({ url: self.url, videoId: self.videoId }));
      refreshList(self.zone);
    });
  };

  // Next piece: what the link carried in CHUNK_SECONDS last time, grown at most fourfold a step.
  Upload.prototype.measure = function (bytes, ms) {
    var fit = bytes / Math.max(ms, 1) * 1000 * CHUNK_SECONDS;
    var floor = Math.min(MIB, this.maxChunk);
    this.chunk = Math.floor(Math.max(floor, Math.min(this.maxChunk, fit, this.chunk * 4)));
  };

  Upload.prototype.send = function () {
    var self = this, end = Math.min(this.offset + this.chunk, this.file.size), started = Date.now();
    return this.request("PATCH", this.url, {
      "Upload-Offset": String(this.offset), "Content-Type": "application/offset+octet-stream"
    }, this.file.slice(this.offset, end), function (loaded) { self.progress(self.offset + loaded); })
      .then(function (xhr) {
        var offset = Number(xhr.getResponseHeader("Upload-Offset"));
        self.measure(offset - self.offset, Date.now() - started);
        self.offset = offset;
        self.progress(offset);
        if (self.resuming) { self.resuming = false; self.show(""); }
        return wait(Math.max(0, MIN_GAP_MS - (Date.now() - started)));
      });
  };

  // Locate, then send piece after piece; lost connections and busy answers are retried with growing
  // delays (each retry first asks the server where the upload stands), other refusals end it.
  Upload.prototype.run = function () {
    var self = this, attempt = 0;
    function step() {
      if (!self.running) { return Promise.resolve(); }
      if (self.located && self.offset >= self.file.size) { return Promise.resolve(self.done()); }
      var work = self.located ? self.send() : self.locate().then(function () { self.located = true; self.details(); });
      return work.then(function () {
        if (attempt) { attempt = 0; self.show(""); }
        return step();
      }, function (xhr) {
        if (!self.running) { return; }
        var status = xhr.status || 0;
        if (status && status < 500 && status !== 409 && status !== 423 && status !== 429) { return self.fail(xhr); }
        if (attempt >= RETRY_DELAYS.length) { return self.fail(xhr); }
        if (!status || status >= 500) { self.show("Connection lost; trying again…"); }
        self.located = false;
        return wait(RETRY_DELAYS[attempt++]).then(step);
      });
    }
    return step();
  };

  Upload.prototype.start = function () {
    this.running = true;
    this.located = false;
    this.button("Pause");
    return this.run();
  };

  Upload.prototype.pause = function () {
    this.running = false;
    if (this.xhr) { this.xhr.abort(); }
    this.button("Resume");
    this.show("Paused.");
    this.showState("Upload paused at " + (this.percent || 0) + "% — choose Resume to go on.");
  };

  Upload.prototype.button = function (label) {
    var button = this.item.querySelector(".pause");
    button.textContent = label;
    button.hidden = !label;
  };

  Upload.prototype.done = function () {
    this.running = false;
    window.localStorage.removeItem(this.key);
    this.progress(this.file.size);
    this.button("");
    this.show("Upload complete.");
    this.showState("Upload complete.");
    this.refreshStatus();
  };

  Upload.prototype.fail = function (xhr) {
    this.running = false;
    this.showState("Upload stopped at " + (this.percent || 0) + "%.");
    this.show("Upload failed: " + (xhr && xhr.status ? problem(xhr) : "the connection is lost."));
    this.button("Retry");
  };

  // The details-and-publish form, beside the progress, as soon as the video exists.
  Upload.prototype.details = function () {
    var panel = this.item.querySelector(".details");
    if (!this.videoId || panel.dataset.video === this.videoId || !window.htmx) { return; }
    panel.dataset.video = this.videoId;
    // Each request from its own element: htmx queues one request per element and keeps only the last
    // waiting one, so two panels loaded from the same element (the body, by default) lost one of them.
    var self = this;
    window.htmx.ajax("GET", this.zone.dataset.details.replace("VIDEO_ID", this.videoId),
                     { source: panel, target: panel, swap: "innerHTML" })
      .then(function () { if (self.running) { self.progress(self.offset); } });
  };

  function refreshList(zone) {
    var list = document.getElementById("video-list");
    if (window.htmx && list) {
      window.htmx.ajax("GET", zone.dataset.list, { source: list, target: list, swap: "outerHTML" });
    }
  }

  function sending() {
    var zone = document.querySelector("[data-uploader]");
    return Boolean(zone && zone.wmUploads && zone.wmUploads.some(function (upload) { return upload.running; }));
  }

  // A boosted link or form navigates away; the studio's own htmx requests (details, polls, delete) do not.
  function navigates(elt) {
    var own = ["hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"].some(function (name) { return elt.hasAttribute(name); });
    return (elt.tagName === "A" || elt.tagName === "FORM") && !own && Boolean(elt.closest("[hx-boost=true]"));
  }

  var LEAVE_QUESTION = "Uploads are still running. If you leave this page they pause, and what you typed in " +
    "their details is lost. Leave anyway?";

  function addUpload(zone, file) {
    var item = document.createElement("li");
    item.className = "upload-item";
    item.innerHTML = '<span class="name"></span> <progress class="sent" max="100" value="0"></progress> ' +
      '<span class="percent">0%</span> <button type="button" class="pause">Pause</button> ' +
      '<span class="message" role="status"></span><div class="details"></div>';
    item.querySelector(".name").textContent = file.name;
    zone.querySelector(".upload-list").appendChild(item);
    var upload = new Upload(zone, file, item);
    zone.wmUploads.push(upload);
    if (file.size > Number(zone.dataset.max)) {
      upload.show("Too large for this server.");
      upload.button("");
      return;
    }
    item.querySelector(".pause").addEventListener("click", function () {
      if (upload.running) { upload.pause(); } else { upload.show(""); upload.start(); }
    });
    upload.start();
  }

  function init() {
    var zone = document.querySelector("[data-uploader]");
    if (!zone || zone.wmUploads) { return; }
    zone.wmUploads = [];
    var form = zone.querySelector("form");
    var input = zone.querySelector("input[type=file]");
    function add(files) { Array.prototype.forEach.call(files, function (file) { addUpload(zone, file); }); }
    // With JavaScript the picker uploads at once; the form's plain post is the no-JavaScript way.
    form.addEventListener("submit", function (event) { event.preventDefault(); });
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
    zone.setAttribute("data-ready", "");
  }

  // Leaving the studio stops its uploads (they resume when the same file is chosen again) and keeps
  // them out of the Back/Forward snapshot, which could only show a frozen progress bar.
  function teardown() {
    var zone = document.querySelector("[data-uploader]");
    if (!zone || !zone.wmUploads) { return; }
    zone.wmUploads.forEach(function (upload) {
      if (!upload.running) { return; }
      upload.pause();
      // The snapshot keeps the rows but not the progress list and its Resume buttons.
      upload.showState("Upload paused at " + (upload.percent || 0) + "% — choose the same file again to resume it.");
    });
    zone.querySelector(".upload-list").textContent = "";
    zone.wmUploads = null;
    zone.removeAttribute("data-ready");
  }

  // Ask before leaving while files are being sent: full navigations get the browser's own question,
  // boosted ones ours; staying loses nothing.
  window.addEventListener("beforeunload", function (event) {
    if (sending()) { event.preventDefault(); event.returnValue = ""; }
  });
  document.addEventListener("htmx:confirm", function (event) {
    if (!sending() || !navigates(event.detail.elt)) { return; }
    event.preventDefault();
    if (window.confirm(LEAVE_QUESTION)) { event.detail.issueRequest(true); }
  });

  init();
  document.addEventListener("htmx:beforeHistorySave", teardown);
  document.addEventListener("htmx:afterSettle", init);
  // A refreshed row or status line starts with the server's words; the uploads this page sends correct them.
  document.addEventListener("htmx:afterSettle", function () {
    var zone = document.querySelector("[data-uploader]");
    (zone && zone.wmUploads || []).forEach(function (upload) { if (upload.running) { upload.progress(upload.offset); } });
  });
  document.addEventListener("htmx:historyRestore", init);
})();
