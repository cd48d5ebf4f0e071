// Optional: shows "last checked" times as relative ("12 s ago") next to the
// absolute time. The page is complete without it.
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
