// Live progress of a bulk file: poll its JSON endpoint and update the numbers and the bar.
// Without this script the page still works: its "Refresh" link reloads the same figures.
(function () {
  "use strict";

  var INTERVAL_MS = 2000;

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.querySelector("[data-bulk-progress]");
    if (!card || !window.fetch) { return; }
    var url = card.getAttribute("data-bulk-progress");
    var bar = card.querySelector("progress");
    var lastSummary = null;

    function show(data) {
      card.querySelectorAll("[data-field]").forEach(function (el) {
        var name = el.getAttribute("data-field");
        if (!(name in data)) { return; }
        var text = String(data[name]);
        // Only touch the live region when the sentence changes, so screen readers are not flooded.
        if (name === "summary") {
          if (text === lastSummary) { return; }
          lastSummary = text;
        }
        if (el.textContent !== text) { el.textContent = text; }
      });
      if (bar) {
        bar.max = Math.max(data.toSend, 1);
        bar.value = data.finished;
        bar.textContent = data.percent + "%";
      }
    }

    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          show(data);
          if (data.state !== "done") { window.setTimeout(poll, INTERVAL_MS); }
        })
        .catch(function () {
          // A blip (network, sign-in expired): try again later; the Refresh link always works.
          window.setTimeout(poll, INTERVAL_MS * 5);
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  });
})();
