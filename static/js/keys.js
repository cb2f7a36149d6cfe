// Keyboard shortcuts for the checker's queue and decide page, documented on each page
// (templates/approvals/_keys.html). Single keys act only while focus is outside text fields,
// never with Ctrl/Alt/Meta, and the page's checkbox turns them off (WCAG 2.1.4), remembered here.
(function () {
  "use strict";

  var box = document.querySelector("[data-shortcuts]");
  if (!box) { return; }
  var toggle = box.querySelector("[data-shortcuts-toggle]");
  var STORE = "approvals-shortcuts";

  function stored() {
    try { return window.localStorage.getItem(STORE); } catch (e) { return null; }
  }
  toggle.checked = stored() !== "off";
  toggle.addEventListener("change", function () {
    try { window.localStorage.setItem(STORE, toggle.checked ? "on" : "off"); } catch (e) { /* private mode */ }
  });

  function typing(target) {
    if (!target || !target.closest) { return false; }
    if (target.isContentEditable) { return true; }
    var field = target.closest("input, textarea, select");
    // A radio button or checkbox takes no typed text: the keys still work there.
    return Boolean(field) && !(field.type === "radio" || field.type === "checkbox");
  }

  // -- the queue: a highlighted row that j/k move -----------------------------------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
  var current = -1;

  function highlight(index) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("is-current", i === current); });
    var link = rows[current].querySelector("a");
    if (link) { link.focus(); }  // focus follows, so a screen reader says where it is
  }

  function rowAction(name) {
    if (current < 0) { highlight(0); }
    var target = rows[current] && rows[current].querySelector("[data-key-" + name + "]");
    if (!target) { return false; }
    if (target.tagName === "INPUT") { target.click(); } else { window.location.href = target.href; }
    return true;
  }

  // -- the decide page: choose, skip, back --------------------------------------------------------
  function choose(value) {
    var radio = document.querySelector("input[name=decision][value=" + value + "]");
    if (!radio) { return false; }
    radio.checked = true;
    var message = document.querySelector("textarea[name=message]");
    if (message) { message.focus(); }
    return true;
  }

  function follow(name) {
    var link = document.querySelector("[data-key-" + name + "]");
    if (!link) { return false; }
    window.location.href = link.href;
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (!toggle.checked || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    var done = false;
    if (rows.length) {
      if (event.key === "j") { highlight(current + 1); done = true; }
      else if (event.key === "k") { highlight(current - 1); done = true; }
      else if (event.key === "a") { done = rowAction("approve"); }
      else if (event.key === "r") { done = rowAction("reject"); }
      else if (event.key === "x") { done = rowAction("tick"); }
    } else {
      if (event.key === "a") { done = choose("approved"); }
      else if (event.key === "r") { done = choose("rejected"); }
      else if (event.key === "j") { done = follow("next"); }
      else if (event.key === "k") { done = follow("queue"); }
    }
    if (done) { event.preventDefault(); }
  });
}());
