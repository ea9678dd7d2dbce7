// Living in the LMS's iframe: tell Canvas the page's height whenever it changes, so the page
// never scrolls inside a scrolling page (Canvas: lti.frameResize). Moodle has no listener and
// sizes its frame to the viewport; nothing here waits for an answer.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function resize() {
    var height = document.documentElement.scrollHeight;
    if (height === last) { return; }
    last = height;
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  window.addEventListener("load", resize);
  if (window.ResizeObserver) { new ResizeObserver(resize).observe(document.body); }
  document.addEventListener("toggle", resize, true);  // <details> opening or closing
})();
