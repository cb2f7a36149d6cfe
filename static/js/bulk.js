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

    // The rows table shows each row's request state as rendered: once the file is done, fetch
    // this page again and swap in its table, so no row still says "Sending".
    function refreshRows() {
      var rows = document.querySelector("[data-bulk-rows]");
      if (!rows || !window.DOMParser) { return; }
      fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-bulk-rows]");
          if (fresh) { rows.replaceWith(fresh); }
        })
        .catch(function () { /* the Refresh link still shows the latest table */ });
    }

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
          // Polling runs only on a page rendered while the file was queued or running.
          if (data.state !== "done") { window.setTimeout(poll, INTERVAL_MS); } else { refreshRows(); }
        })
        .catch(function () {
          // A blip (network, sign-in expired): try again later; the Refresh link always works.
          window.setTimeout(poll, INTERVAL_MS * 5);
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  });
})();
