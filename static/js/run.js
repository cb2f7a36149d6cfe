// The progress of a decision on many requests (templates/approvals/run.html): while it runs,
// fetch the page again every 2 s and swap in its progress part. Without this file the page
// says the same, and reloading it shows the latest.
(function () {
  "use strict";

  var part = document.getElementById("run-progress");
  if (!part || part.dataset.running !== "true") { return; }

  function poll() {
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("run-progress");
        if (!fresh) { return; }
        part.replaceWith(fresh);
        part = fresh;
        if (part.dataset.running === "true") { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
}());
