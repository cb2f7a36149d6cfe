// Idle-timeout warning (WCAG 2.2.1 "Timing adjustable"): before the server ends an idle
// session, show a warning with a countdown and a "Stay signed in" button that extends it.
// The server is the authority: before warning or leaving, ask it how long is really left
// (another tab may have kept the session alive). Loaded with `defer`; no inline script.
(function () {
  "use strict";

  var box = document.getElementById("session-warning");
  if (!box || !window.fetch) { return; }

  var idleSeconds = parseInt(box.dataset.idleSeconds, 10);
  var warningSeconds = parseInt(box.dataset.warningSeconds, 10);
  var countdown = box.querySelector("[data-countdown]");
  var button = box.querySelector("[data-stay-signed-in]");
  var problem = box.querySelector("[data-session-error]");
  var deadline = 0;   // when the session ends (ms since epoch), as last known
  var timer = null;
  var ticker = null;
  var lastFocus = null;

  // The countdown words come translated from the template; "{n}" stands for the number.
  function words(seconds) {
    if (seconds >= 120) { return box.dataset.minutesText.replace("{n}", Math.ceil(seconds / 60)); }
    return (seconds === 1 ? box.dataset.secondText : box.dataset.secondsText).replace("{n}", seconds);
  }

  function schedule(secondsLeft) {
    deadline = Date.now() + secondsLeft * 1000;
    window.clearTimeout(timer);
    var untilWarning = Math.max(secondsLeft - warningSeconds, 0) * 1000;
    timer = window.setTimeout(check, untilWarning);
  }

  function ask(url, options) {
    return window.fetch(url, Object.assign({
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": box.dataset.csrfToken }
    }, options || {})).then(function (response) {
      if (response.status === 401) { leave(); return null; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  function check() {
    // Due to warn (or to leave): first ask the server, without extending the session.
    ask(box.dataset.statusUrl).then(function (state) {
      if (!state) { return; }
      if (state.secondsLeft <= 0) { leave(); return; }
      if (state.secondsLeft > warningSeconds + 5) { hide(); schedule(state.secondsLeft); return; }
      show(state.secondsLeft);
    }).catch(function () {
      // Offline: warn on our own clock rather than not at all.
      show(Math.max(Math.round((deadline - Date.now()) / 1000), 0));
    });
  }

  function show(secondsLeft) {
    deadline = Date.now() + secondsLeft * 1000;
    if (box.hidden) {
      lastFocus = document.activeElement;
      box.hidden = false;
      box.focus();
    }
    tick();
    window.clearInterval(ticker);
    ticker = window.setInterval(tick, 1000);
  }

  function tick() {
    var left = Math.max(Math.round((deadline - Date.now()) / 1000), 0);
    // Update the visible words only every 10 s near the end, so screen readers are not flooded.
    if (left <= 10 || left % 10 === 0 || !countdown.textContent) { countdown.textContent = words(left); }
    if (left <= 0) { window.clearInterval(ticker); check(); }
  }

  function hide() {
    window.clearInterval(ticker);
    problem.hidden = true;
    if (!box.hidden) {
      box.hidden = true;
      if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
    }
  }

  function leave() {
    window.clearTimeout(timer);
    window.clearInterval(ticker);
    window.location.assign(box.dataset.signedOutUrl);
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    ask(box.dataset.keepaliveUrl, { method: "POST" }).then(function (state) {
      button.disabled = false;
      if (!state) { return; }
      hide();
      schedule(state.secondsLeft);
    }).catch(function () {
      button.disabled = false;
      problem.hidden = false;
    });
  });

  // The page load itself was activity: the full idle time is left now.
  schedule(idleSeconds);
})();
