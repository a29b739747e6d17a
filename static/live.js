// postback-ledger: niceties only; every page works without this script.
// Each element with an id and data-live-url gets its content replaced by the same element of a
// fresh copy of that URL every second while the tab is visible (the deliveries log, as they
// arrive: a test conversion shows within about a second).
(function () {
  "use strict";
  var live = document.querySelectorAll("[data-live-url]");
  if (!live.length || !window.fetch || !window.DOMParser) return;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    var url = live[0].getAttribute("data-live-url");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        Array.prototype.forEach.call(live, function (element) {
          if (element.getAttribute("data-live-url") !== url) return;
          var fresh = page.getElementById(element.id);
          if (fresh && fresh.innerHTML !== element.innerHTML) element.innerHTML = fresh.innerHTML;
        });
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(refresh, 1000);
})();
