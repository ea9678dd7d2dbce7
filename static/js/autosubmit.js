// Submits a form marked data-autosubmit once the page has loaded (deep-linking answers).
// The form has a visible button too, so it works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
});
