// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Tell the server this browser's time zone, so times are shown in it (i18n.py reads the cookie).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names are cookie-safe as they are; anything else is not a zone name.
    var already = ("; " + document.cookie + ";").indexOf("; tz=" + zone + ";") !== -1;
    if (/^[A-Za-z0-9_\/+-]+$/.test(zone) && !already) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (e) { /* no Intl: the server's default zone is used */ }

  // Move focus to an error summary so screen readers announce it (WCAG 3.3.1).
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }

    // A courtesy against double clicks; the server's submission key is the real guard.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitted === "1") { event.preventDefault(); return; }
        form.dataset.submitted = "1";
        window.setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
  });
})();
