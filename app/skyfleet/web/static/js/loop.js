// The loop page: play the last N images (thumbnails) in place, loaded once; new images join every minute.
(function () {
  "use strict";
  var root = document.getElementById("loop");
  if (!root) { return; }
  var screen = root.querySelector("[data-role=screen]");
  var link = root.querySelector("[data-role=link]");
  var seek = root.querySelector("[data-role=seek]");
  var time = root.querySelector("[data-role=time]");
  var speed = root.querySelector("[data-role=fps]");
  var toggle = root.querySelector("[data-role=play]");
  var frames = [].map.call(root.querySelectorAll("[data-role=frames] li"), function (li) {
    return { id: li.getAttribute("data-id"), src: li.getAttribute("data-src"),
             page: li.getAttribute("data-page"), time: li.getAttribute("data-time") };
  });
  var index = frames.length - 1;
  var timer = null;
  var cache = {};

  function preload(frame) {
    if (!cache[frame.src]) { cache[frame.src] = new Image(); cache[frame.src].src = frame.src; }
  }

  function show(i) {
    if (!frames.length) { return; }
    index = (i + frames.length) % frames.length;
    var frame = frames[index];
    screen.setAttribute("src", frame.src);
    link.setAttribute("href", frame.page);
    time.textContent = frame.time;
    seek.max = String(frames.length - 1);
    seek.value = String(index);
    root.setAttribute("data-index", String(index));
  }

  function playing() { return timer !== null; }

  function play() {
    stop();
    var fps = parseInt(speed.value, 10) || 5;
    timer = setInterval(function () { show(index + 1); }, 1000 / fps);
    root.setAttribute("data-playing", "1");
    toggle.textContent = "Pause";
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    root.setAttribute("data-playing", "0");
    toggle.textContent = "Play";
  }

  function refresh() {
    fetch(root.getAttribute("data-api"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        var current = frames[index] && frames[index].id;
        frames = data.frames;
        frames.forEach(preload);
        var kept = frames.findIndex(function (f) { return String(f.id) === current; });
        index = kept >= 0 ? kept : frames.length - 1;
        if (!playing()) { show(index); }
      })
      .catch(function () { /* offline: keep playing what is loaded, try again next minute */ });
  }

  toggle.addEventListener("click", function () { if (playing()) { stop(); } else { play(); } });
  root.querySelector("[data-role=prev]").addEventListener("click", function () { stop(); show(index - 1); });
  root.querySelector("[data-role=next]").addEventListener("click", function () { stop(); show(index + 1); });
  seek.addEventListener("input", function () { stop(); show(parseInt(seek.value, 10)); });
  speed.addEventListener("change", function () { if (playing()) { play(); } });
  document.addEventListener("keydown", function (e) {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT")) { return; }
    if (e.key === " ") { e.preventDefault(); if (playing()) { stop(); } else { play(); } }
    if (e.key === "ArrowLeft") { stop(); show(index - 1); }
    if (e.key === "ArrowRight") { stop(); show(index + 1); }
  });
  frames.forEach(preload);
  setInterval(refresh, 60000);
  show(index);
  play();
})();
