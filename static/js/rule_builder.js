// The rule builder, live: after each change, post the draft to the preview endpoint and show
// the engine's sentence and mistakes in place. Adding and removing conditions stay ordinary
// form submits, so the page works the same without JavaScript.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("rule-form");
    if (!form || !window.fetch) { return; }
    var url = form.getAttribute("data-preview-url");
    var sentenceBox = form.querySelector("[data-sentence]");
    var topBox = form.querySelector("[data-top-errors]");
    var jsonBox = document.querySelector("[data-rule-json]");
    var token = form.querySelector("input[name=csrf_token]").value;
    var timer = null;

    function show(data) {
      sentenceBox.textContent = "";
      if (data.sentence) {
        var p = el("p", "sentence");
        p.appendChild(el("strong", "", data.sentence + "."));
        sentenceBox.appendChild(p);
        if (data.outline.length > 1) {
          var list = el("ul", "outline");
          data.outline.forEach(function (line) { list.appendChild(el("li", "depth-" + Math.min(line[0], 4), line[1])); });
          sentenceBox.appendChild(list);
        }
      } else {
        var q = el("p", "sentence");
        q.appendChild(el("span", "tag tag-error", "Not yet a rule"));
        q.appendChild(document.createTextNode(" Fix the mistake marked below."));
        sentenceBox.appendChild(q);
      }
      topBox.textContent = "";
      data.top.forEach(function (message) {
        var n = el("p", "notice notice-error");
        n.appendChild(el("span", "tag tag-error", "Mistake"));
        n.appendChild(document.createTextNode(" " + message));
        topBox.appendChild(n);
      });
      form.querySelectorAll("[data-error-for]").forEach(function (p) {
        var path = p.getAttribute("data-error-for");
        var message = data.errors[path];
        var fieldset = document.getElementById("node-" + path);
        p.hidden = !message;
        p.querySelector("[data-error-text]").textContent = message || "";
        if (fieldset) {
          fieldset.classList.toggle("has-error", !!message);
          if (message) { fieldset.setAttribute("aria-describedby", "err-" + path); }
          else { fieldset.removeAttribute("aria-describedby"); }
        }
      });
      if (jsonBox) { jsonBox.value = data.json; }
    }

    function preview() {
      var body = new FormData(form);
      body.delete("op");
      fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": token } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(show)
        .catch(function () { /* the "Update the sentence" button still works */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(preview, 300); }
    form.addEventListener("input", later);
    form.addEventListener("change", function (e) {
      // A changed kind needs other fields: say how to get them (no reload behind the user's back).
      if (e.target.hasAttribute("data-kind")) {
        var note = e.target.parentNode.querySelector("[data-kind-note]");
        if (!note) {
          note = el("p", "muted kind-note", "Press “Update the sentence” to show the fields of this kind of condition.");
          note.setAttribute("data-kind-note", "");
          e.target.insertAdjacentElement("afterend", note);
        }
      }
      later();
    });
  });
})();
