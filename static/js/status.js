// Live status: while a request is open, fetch its status fragment about every N seconds,
// swap it in when something changed, and announce a new state in the role="status" region.
// Without this script the page still works: "Refresh now" is a plain form.
(function () {
  "use strict";

  var MAX_DELAY_MS = 120000;

  function start() {
    var region = document.getElementById("live-status");
    var announcer = document.getElementById("live-announcer");
    if (!region || !region.dataset.liveUrl || !window.fetch) { return; }
    var baseDelay = Math.max(parseInt(region.dataset.pollSeconds, 10) || 10, 2) * 1000;
    var delay = baseDelay;
    var timer = null;

    function current() { return region.querySelector(".live-fragment"); }

    function isLive() {
      var fragment = current();
      return !!fragment && fragment.dataset.live === "true";
    }

    function schedule() {
      window.clearTimeout(timer);
      if (isLive() && !document.hidden) { timer = window.setTimeout(poll, delay); }
    }

    function swap(html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;  // same-origin, server-rendered, escaped by Jinja
      var fresh = holder.querySelector(".live-fragment");
      var old = current();
      if (!fresh || !old) { return; }
      if (fresh.dataset.version === old.dataset.version) {
        // Nothing shown changed: only say when it was checked (no swap, so focus stays put).
        var was = old.querySelector(".last-checked"), now = fresh.querySelector(".last-checked");
        if (was && now) { was.textContent = now.textContent; }
        return;
      }
      var hadFocus = old.contains(document.activeElement);
      var stateChanged = fresh.dataset.state !== old.dataset.state;
      old.replaceWith(fresh);
      if (stateChanged) {
        // The sentences come translated from the page (requests/show.html); {state} is the new state.
        var stateText = function () { return fresh.dataset.stateText; };
        announcer.textContent = announcer.dataset.changedText.replace("{state}", stateText);
        var site = document.title.indexOf(" · ");
        if (site >= 0) {
          document.title = announcer.dataset.titleText.replace("{state}", stateText) + document.title.slice(site);
        }
      }
      if (hadFocus) {
        var heading = fresh.querySelector("#state-heading");
        if (heading) { heading.focus(); }
      }
    }

    function poll() {
      fetch(region.dataset.liveUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) { delay = baseDelay; swap(html); })
        .catch(function () {
          // The app (not Capillary) is unreachable: back off, keep the last state shown.
          delay = Math.min(delay * 2, MAX_DELAY_MS);
        })
        .then(schedule);
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { delay = baseDelay; schedule(); }
    });
    schedule();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
