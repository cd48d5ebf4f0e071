// Optional: shows "last checked" times as relative ("12 s ago") next to the
// absolute time, and keeps an untouched page fresh. The page is complete
// without it: it says when it was generated and when it last checked.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (isNaN(t)) { return; }
      var s = Math.max(0, Math.round((now - t) / 1000));
      var text = s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
      var out = el.parentNode.querySelector(".relative");
      if (out) { out.textContent = "(" + text + ")"; }
    });
  }
  tick();
  setInterval(tick, 5000);
})();

// Reloads the page every data-refresh seconds, but only while its tab is
// visible and only until the visitor does anything on it. A meta refresh
// reloaded under a reader's feet (WCAG 2.2.1, axe's meta-refresh); here the
// first key, click, touch, wheel or focus hands the page to the visitor for
// good, and a tab hidden when the reload was due reloads when shown again.
(function () {
  "use strict";
  var secs = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!(secs > 0)) { return; }
  var due = Date.now() + secs * 1000;
  var timer = 0;
  // Not "scroll": a reload restores the scroll position and fires it.
  var touches = ["keydown", "pointerdown", "touchstart", "wheel", "focusin"];
  function check() {
    clearTimeout(timer);
    if (document.visibilityState !== "visible") { return; } // visibilitychange calls again
    var left = due - Date.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    location.reload();
  }
  function touched() {
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", check);
    touches.forEach(function (ev) { document.removeEventListener(ev, touched, true); });
  }
  touches.forEach(function (ev) { document.addEventListener(ev, touched, { capture: true, passive: true }); });
  document.addEventListener("visibilitychange", check);
  check();
})();
