// Weekmotion player: native HLS where the browser has it, hls.js elsewhere, the MP4 otherwise;
// storyboard previews over the scrub bar; keyboard controls; the premium preview's end.
(function () {
  "use strict";

  function parseVtt(text, base) {
    var cues = [], blocks = text.split(/\n\n+/);
    blocks.forEach(function (block) {
      var lines = block.trim().split("\n");
      var timing = lines.find(function (l) { return l.indexOf("-->") > 0; });
      if (!timing) { return; }
      var parts = timing.split("-->").map(function (t) { return toSeconds(t.trim()); });
      var target = lines[lines.indexOf(timing) + 1] || "";
      var hash = target.split("#xywh=");
      var box = (hash[1] || "0,0,0,0").split(",").map(Number);
      cues.push({ start: parts[0], end: parts[1], url: new URL(hash[0], base).href, x: box[0], y: box[1], w: box[2], h: box[3] });
    });
    return cues;
  }

  function toSeconds(stamp) {
    var p = stamp.split(":").map(parseFloat);
    return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
  }

  function attachSource(video, box) {
    var hls = box.dataset.hls, mp4 = box.dataset.mp4;
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hls;
    } else if (window.Hls && window.Hls.isSupported()) {
      var player = new window.Hls({ capLevelToPlayerSize: true });
      player.loadSource(hls);
      player.attachMedia(video);
      player.on(window.Hls.Events.ERROR, function (event, data) {
        if (data.fatal && mp4) { player.destroy(); video.hls = null; video.src = mp4; }
      });
      video.hls = player;
    } else if (mp4) {
      video.src = mp4;
    }
  }

  function setupStoryboard(video, box) {
    var scrub = box.querySelector(".scrub"), bar = box.querySelector(".scrub-bar");
    var fill = box.querySelector(".scrub-fill"), thumb = box.querySelector(".scrub-thumb");
    if (!scrub) { return; }
    scrub.hidden = false;
    var cues = [];
    if (box.dataset.storyboard) {
      fetch(box.dataset.storyboard, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (text) { cues = parseVtt(text, window.location.href); });
    }
    function timeAt(event) {
      var rect = bar.getBoundingClientRect();
      var ratio = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
      return { ratio: ratio, time: ratio * (video.duration || 0) };
    }
    bar.addEventListener("mousemove", function (event) {
      var at = timeAt(event);
      var cue = cues.find(function (c) { return at.time >= c.start && at.time < c.end; });
      if (!cue) { thumb.classList.remove("shown"); return; }
      thumb.style.width = cue.w + "px";
      thumb.style.height = cue.h + "px";
      thumb.style.left = "calc(" + (at.ratio * 100) + "% - " + (cue.w / 2) + "px)";
      thumb.style.backgroundImage = "url('" + cue.url + "')";
      thumb.style.backgroundPosition = "-" + cue.x + "px -" + cue.y + "px";
      thumb.querySelector("span").textContent = new Date(at.time * 1000).toISOString().substr(11, 8).replace(/^00:/, "");
      thumb.classList.add("shown");
    });
    bar.addEventListener("mouseleave", function () { thumb.classList.remove("shown"); });
    bar.addEventListener("click", function (event) { video.currentTime = timeAt(event).time; });
    video.addEventListener("timeupdate", function () {
      fill.style.width = (video.duration ? video.currentTime / video.duration * 100 : 0) + "%";
    });
  }

  function currentVideo() {
    return document.querySelector("[data-player] video");
  }

  // Space belongs to whatever has focus when that is a control (a button, the account menu, the
  // video's own controls): handling it here as well toggled twice, or toggled the video instead.
  var OWN_SPACE = "a, button, summary, video, audio, select, [role=button], [contenteditable]";

  function setupKeys() {
    document.addEventListener("keydown", function (event) {
      var video = currentVideo();
      if (!video || event.defaultPrevented) { return; }
      var target = event.target instanceof Element ? event.target : document.body;
      var tag = target.tagName.toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.key === " " && target.closest(OWN_SPACE)) { return; }
      var handled = true;
      switch (event.key) {
        case " ": case "k": video.paused ? video.play() : video.pause(); break;
        case "j": video.currentTime = Math.max(0, video.currentTime - 10); break;
        case "l": video.currentTime = video.currentTime + 10; break;
        case "ArrowLeft": video.currentTime = Math.max(0, video.currentTime - 5); break;
        case "ArrowRight": video.currentTime = video.currentTime + 5; break;
        case "m": video.muted = !video.muted; break;
        case "f":
          if (document.fullscreenElement) { document.exitFullscreen(); } else { video.requestFullscreen(); }
          break;
        default: handled = false;
      }
      if (handled) { event.preventDefault(); }
    });
  }

  function setupPreview(video, box) {
    var limit = parseFloat(box.dataset.preview || "0");
    if (!limit) { return; }
    video.addEventListener("timeupdate", function () {
      if (video.currentTime >= limit) { video.pause(); video.currentTime = limit; box.classList.add("preview-over"); }
    });
    video.addEventListener("ended", function () { box.classList.add("preview-over"); });
  }

  // The attached state lives in JS properties, never in attributes: htmx snapshots the DOM for
  // Back/Forward, and a restored copy must look like a fresh, unattached player.
  function init() {
    var box = document.querySelector("[data-player]");
    if (!box || box.wmPlayer) { return; }
    var video = box.querySelector("video");
    box.wmPlayer = { video: video };
    if ((video.getAttribute("src") || "").indexOf("blob:") === 0) { video.removeAttribute("src"); }
    var ready = video.canPlayType("application/vnd.apple.mpegurl") ? Promise.resolve()
      : window.wmLoadScript(box.dataset.hlsLib, "Hls").catch(function () { return null; });
    ready.then(function () {
      if (box.wmPlayer && box.isConnected) {
        attachSource(video, box);
        if (autoplayNext) { autoplay(video); }
      }
      autoplayNext = false;
    });
    setupStoryboard(video, box);
    setupPreview(video, box);
  }

  // A player that became ready while its page was open starts by itself (muted if the browser insists).
  var autoplayNext = false;

  function autoplay(video) {
    video.play().catch(function () { video.muted = true; return video.play(); }).catch(function () { /* blocked */ });
  }

  function teardown() {
    var box = document.querySelector("[data-player]");
    if (!box || !box.wmPlayer) { return; }
    var video = box.wmPlayer.video;
    if (video.hls) { video.hls.destroy(); video.hls = null; }
    video.pause();
    video.removeAttribute("src");
    video.load();
    box.classList.remove("preview-over");
    box.wmPlayer = null;
  }

  setupKeys();
  init();
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    autoplayNext = Boolean(target && target.hasAttribute("data-processing"));
    if (target && target.contains(document.querySelector("[data-player]"))) { teardown(); }
  });
  document.addEventListener("htmx:beforeHistorySave", teardown);
  document.addEventListener("htmx:historyRestore", init);
  document.addEventListener("htmx:afterSettle", init);
})();
