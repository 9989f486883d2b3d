// The Now page: poll the JSON endpoint and swap in new images without reloading the page.
(function () {
  "use strict";
  var root = document.getElementById("now");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var seconds = parseInt(root.getAttribute("data-refresh"), 10) || 15;
  var status = root.querySelector("[data-role=status]");
  var cards = root.querySelector("[data-role=cards]");
  var empty = root.querySelector("[data-role=empty]");
  var template = document.getElementById("card-template");
  var timer = null;

  function field(card, name) { return card.querySelector("[data-field=" + name + "]"); }

  function setText(card, name, value) {
    var el = field(card, name);
    if (el && el.textContent !== value) { el.textContent = value; }
  }

  function age(utc) {
    if (!utc) { return "–"; }
    var s = Math.max(0, Math.round((Date.now() - Date.parse(utc)) / 1000));
    if (s < 5) { return "just now"; }
    if (s < 60) { return s + " s ago"; }
    if (s < 3600) { return Math.floor(s / 60) + " min ago"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h ago"; }
    return Math.floor(s / 86400) + " d ago";
  }

  function refreshAges() {
    root.querySelectorAll("[data-field=age]").forEach(function (el) {
      var utc = el.getAttribute("data-utc");
      if (utc) { el.textContent = age(utc); }
    });
  }

  function cardFor(cam) {
    var card = cards.querySelector('[data-camera-id="' + cam.id + '"]');
    if (!card && template) {
      card = template.content.firstElementChild.cloneNode(true);
      card.setAttribute("data-camera-id", String(cam.id));
      cards.appendChild(card);
    }
    return card;
  }

  function showImage(card, img) {
    var el = field(card, "image");
    var period = field(card, "period");
    setText(card, "time", img.time);
    setText(card, "exposure", img.exposure);
    setText(card, "moon", img.moon);
    setText(card, "stars", img.stars);
    setText(card, "temp", img.temp);
    field(card, "age").setAttribute("data-utc", img.utc);
    field(card, "page").setAttribute("href", img.page);
    field(card, "page").hidden = false;
    field(card, "noimage").hidden = true;
    period.hidden = false;
    period.textContent = img.night ? "Night" : "Day";
    period.className = "badge " + (img.night ? "night" : "day");
    if (img.width && img.height) {
      el.setAttribute("width", img.width);
      el.setAttribute("height", img.height);
    }
    el.setAttribute("src", img.latest);
    card.setAttribute("data-image-id", String(img.id));
  }

  function update(cam) {
    var card = cardFor(cam);
    if (!card) { return; }
    var link = field(card, "camera");
    link.textContent = cam.name;
    link.setAttribute("href", cam.page);
    var img = cam.image;
    if (!img || card.getAttribute("data-image-id") === String(img.id)) { return; }
    // Load the new image off-screen first, so the old one stays until the new one is ready.
    var loader = new Image();
    loader.onload = function () { showImage(card, img); refreshAges(); };
    loader.onerror = function () { card.setAttribute("data-load-error", img.latest); };
    loader.src = img.latest;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, seconds * 1000);
  }

  function poll() {
    if (document.hidden) { schedule(); return; }
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        data.cameras.forEach(update);
        if (empty) { empty.hidden = data.cameras.length > 0; }
        refreshAges();
        if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString() + " · every " + seconds + " s"; }
        root.setAttribute("data-polled", String(Date.now()));
      })
      .catch(function (err) {
        if (status) { status.textContent = "Offline? " + err.message + " · retrying every " + seconds + " s"; }
      })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); }
  });
  schedule();
})();
