// Course setup pages: tell Canvas our height (no double scrollbars), show only the chosen
// method's parameters, and refresh the method's live example from the server's engine.
// Everything works without this file; Canvas' mobile apps never answer, and nothing waits.
(function () {
  "use strict";

  // the frame's height goes to Canvas from frame.js, on every page

  function setupMethod(box) {
    var select = box.querySelector("[data-method-select]");
    var result = box.querySelector("[data-example]");
    var series = box.querySelector("[data-series]");
    var timer = null;
    function showChosen() {
      var kind = select.value;
      box.querySelectorAll("[data-params-for]").forEach(function (el) {
        el.hidden = el.getAttribute("data-params-for") !== kind;
      });
      box.querySelectorAll("[data-method-help]").forEach(function (el) {
        el.hidden = el.getAttribute("data-method-help") !== kind;
      });
    }
    function refresh() {
      var params = new URLSearchParams();
      params.set("method", select.value);
      box.querySelectorAll("[data-params-for='" + select.value + "'] input").forEach(function (input) {
        params.set(input.name, input.value);
      });
      if (series) { params.set("series", series.value); }
      params.set("competency", box.getAttribute("data-competency") || "");
      fetch(box.getAttribute("data-example-url") + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { result.textContent = data.series_error || data.text; })
        .catch(function () { /* keep the last example; saving still works */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
    select.addEventListener("change", function () { showChosen(); refresh(); });
    box.addEventListener("input", function (e) { if (e.target !== select) { later(); } });
    showChosen();
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A refused form: the summary of its mistakes is at the top; take the reader there
    // (autofocus does the same without scripts, but not in every framed page).
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); summary.scrollIntoView({ block: "start" }); }
    document.querySelectorAll("[data-method-fields]").forEach(setupMethod);
    document.querySelectorAll(".js-only-hide").forEach(function (el) { el.hidden = true; });
  });
})();
