// LTI Dynamic Registration ends by telling the LMS to close its registration dialog; the LMS
// (Canvas) listens only to the origin it opened, this page's.
(function () {
  "use strict";
  var button = document.getElementById("close-registration");
  if (!button) { return; }
  button.addEventListener("click", function () {
    (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  });
})();
