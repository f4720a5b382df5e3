/* Small behaviours every desk page shares, kept out of the HTML so the
   Content-Security-Policy can forbid inline scripts.
   - [data-submit-on-change]: a control that submits its form when changed (the
     Payment / Refund switch); a <noscript> button does the same without scripts. */
document.addEventListener("change", function (event) {
  var control = event.target.closest("[data-submit-on-change]");
  if (control && control.form) {
    control.form.requestSubmit ? control.form.requestSubmit() : control.form.submit();
  }
});
