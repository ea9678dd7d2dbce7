// LTI platform storage (lti.put_data / lti.get_data) for launches without cookies, and the
// "open in a new window" button (Canvas: requestFullWindowLaunch). Data goes only to the
// origin of the LMS's auth endpoint, never "*"; an answer counts only from that origin, with
// our message_id and the expected subject.
(function () {
  "use strict";
  var WAIT_MS = 3000;
  var RETRY_MS = 400;

  function fullWindowButtons() {
    var buttons = document.querySelectorAll("button[data-full-window]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var url = button.getAttribute("data-full-window");
        if (window.parent === window) { return; }
        // Not data: the LMS page's origin is unknown here, and Canvas listens on any.
        window.parent.postMessage(
          { subject: "requestFullWindowLaunch", data: { url: url, launchType: "new_window" } }, "*");
        // An LMS without this message (Moodle) does nothing: say so, next to what to do instead.
        var none = document.querySelector("[data-full-window-none]");
        window.setTimeout(function () { if (none && document.hasFocus()) { none.hidden = false; } }, 1500);
      });
    });
  }

  function storageFrame(target) {
    if (window.parent === window) { return null; }
    if (target === "_parent") { return window.parent; }
    try { return window.parent.frames[target] || null; } catch (e) { return null; }
  }

  function messageId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(frame, origin, subject, fields) {
    return new Promise(function (resolve, reject) {
      var id = messageId();
      var timer = window.setTimeout(function () { done(); reject(new Error("no answer")); }, WAIT_MS);
      // Posted again until answered (same message_id): the LMS's frame may still be loading.
      var again = window.setInterval(post, RETRY_MS);
      function done() {
        window.clearTimeout(timer);
        window.clearInterval(again);
        window.removeEventListener("message", listen);
      }
      function listen(event) {
        var data = event.data;
        if (event.origin !== origin || !data || data.message_id !== id) { return; }
        if (data.subject !== subject + ".response") { return; }
        done();
        if (data.error) { reject(new Error(data.error.code || "error")); } else { resolve(data); }
      }
      window.addEventListener("message", listen);
      var message = { subject: subject, message_id: id };
      Object.keys(fields).forEach(function (k) { message[k] = fields[k]; });
      function post() { frame.postMessage(message, origin); }
      post();
    });
  }

  function login(box) {
    var frame = storageFrame(box.dataset.target);
    var origin = box.dataset.origin;
    var next = function () { window.location.replace(box.dataset.next); };
    if (!frame) { next(); return; }
    // Whatever storage answers, go on: the partitioned cookie may still carry the state.
    Promise.all([
      send(frame, origin, "lti.put_data", { key: box.dataset.stateKey, value: box.dataset.state }),
      send(frame, origin, "lti.put_data", { key: box.dataset.nonceKey, value: box.dataset.nonce })
    ]).then(next, next);
  }

  function launch(form) {
    var frame = storageFrame(form.dataset.target);
    var origin = form.dataset.origin;
    function blocked() {
      document.getElementById("lti-storage-wait").hidden = true;
      document.getElementById("lti-blocked").hidden = false;
    }
    if (!frame) { blocked(); return; }
    var keys = [form.dataset.stateKey, form.dataset.nonceKey];
    Promise.all(keys.map(function (key) {
      return send(frame, origin, "lti.get_data", { key: key });
    })).then(function (answers) {
      var state = answers[0].value, nonce = answers[1].value;
      if (!state || !nonce) { blocked(); return; }
      form.elements.state.value = state;
      form.elements.nonce.value = nonce;
      // Read once: clear both keys (a null value deletes), then let the tool compare.
      var clear = keys.map(function (key) {
        return send(frame, origin, "lti.put_data", { key: key, value: null });
      });
      Promise.all(clear).then(function () { form.submit(); }, function () { form.submit(); });
    }, blocked);
  }

  function clear(box) {
    // The cookie carried this launch: the landing page drops the login's copy in storage,
    // without waiting for the answers (and without a page of its own in between).
    var frame = storageFrame(box.dataset.target);
    if (frame && box.dataset.origin) {
      box.dataset.keys.split(" ").forEach(function (key) {
        frame.postMessage({ subject: "lti.put_data", message_id: messageId(), key: key, value: null },
          box.dataset.origin);
      });
    }
    if (box.dataset.next) { window.location.replace(box.dataset.next); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    fullWindowButtons();
    var box = document.getElementById("lti-storage");
    if (!box) { return; }
    if (box.dataset.mode === "login") { login(box); }
    if (box.dataset.mode === "launch") { launch(box); }
    if (box.dataset.mode === "clear") { clear(box); }
  });
})();
