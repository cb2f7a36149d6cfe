// "Find customer" in place: post the form's identifier to the review URL with fragment=1 and put
// the returned card (server-rendered, escaped by Jinja) into the aria-live region, which
// announces it. Without this script the button posts the whole form and the page comes back.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-find-customer]");
    var region = document.getElementById("customer-card-region");
    if (!button || !region || !window.fetch || !window.FormData) { return; }

    button.addEventListener("click", function (event) {
      event.preventDefault();
      var data = new FormData(button.form);
      data.set("action", "find");
      data.set("fragment", "1");
      region.textContent = region.dataset.searchingText;
      button.disabled = true;
      fetch(button.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) {
          if (response.status >= 500 || response.redirected) { throw new Error("status " + response.status); }
          return response.text();
        })
        .then(function (html) { region.innerHTML = html; })
        .catch(function () { region.textContent = region.dataset.failedText; })
        .then(function () { button.disabled = false; });
    });
  });
})();
