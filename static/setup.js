// postback-ledger: the setup page's copy buttons. Without this script every template can still
// be selected and copied by hand; the buttons stay hidden.
(function () {
  "use strict";
  function copied(button, ok) {
    button.setAttribute("data-copied", ok ? "true" : "false");
    button.textContent = ok ? "Copied" : "Selected: press Ctrl+C";
    setTimeout(function () { button.textContent = "Copy"; }, 2500);
  }
  function byHand(field) {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { copied(button, true); },
          function () { copied(button, byHand(field)); });
      } else {
        copied(button, byHand(field));
      }
    });
  });
})();
