// Live refresh of the status page: every minute the current status is fetched again and put in place;
// the region is aria-live, so screen readers hear what changed. Without script the page works as is.
(function () {
  "use strict";
  var region = document.getElementById("status-nu");
  if (!region || !window.fetch || !window.DOMParser) return;
  setInterval(function () {
    fetch(window.location.pathname, { headers: { Accept: "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("status-nu");
        if (fresh && fresh.innerHTML !== region.innerHTML) region.innerHTML = fresh.innerHTML;
      })
      .catch(function () {});
  }, 60000);
})();
