// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Features that need this file (e.g. copy buttons) are shown only when it runs.
  document.documentElement.classList.add("js");

  // Copy buttons: data-copy names the element whose text is copied; the result is announced
  // in the button's [data-copy-status] sibling. Delegated, so fragments swapped in later work too.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    var source = button ? document.querySelector(button.dataset.copy) : null;
    if (!source) { return; }
    var text = source.textContent.trim();
    var status = button.parentNode.querySelector("[data-copy-status]");
    var done = function () { if (status) { status.textContent = button.dataset.copiedText; } };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(source); });
    } else {
      select(source);  // no clipboard here (plain HTTP): select it, so Ctrl+C copies it
    }
  });

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

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

    // Filter panels fold on a phone ("Filters (n)"), so results come first; not when a filter has an error.
    if (window.matchMedia && window.matchMedia("(max-width: 40rem)").matches) {
      document.querySelectorAll("details[data-fold-narrow]").forEach(function (panel) {
        if (!panel.querySelector(".field-error")) { panel.open = false; }
      });
    }

    // A courtesy against double clicks; the server's submission key is the real guard.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitted === "1") { event.preventDefault(); return; }
        form.dataset.submitted = "1";
        // "Sending to Capillary…": seen and announced (role="status") while the server waits for
        // Capillary; not for a button that goes elsewhere (e.g. "Edit" with its own formaction).
        var status = form.querySelector("[data-sending-status]");
        var going = event.submitter && event.submitter.hasAttribute("formaction");
        if (status && form.dataset.sendingText && !going) {
          status.textContent = form.dataset.sendingText;
          form.classList.add("is-sending");
          form.setAttribute("aria-busy", "true");
        }
        window.setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
  });
})();
