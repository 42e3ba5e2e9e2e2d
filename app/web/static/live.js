// Live updates without a build step: every [data-live] region re-fetches its fragment URL.
(function () {
  "use strict";
  var PERIOD_MS = 3000;

  function focusedInside(region) {
    var active = document.activeElement;
    return active && active !== document.body && region.contains(active);
  }

  function updateTitle(region) {
    var marker = region.querySelector("[data-open-count]");
    if (!marker) { return; }
    var count = marker.getAttribute("data-open-count");
    document.title = document.title.replace(/^\(\d+ open\)/, "(" + count + " open)");
    var badge = document.querySelector("nav .count");
    if (badge) { badge.textContent = count; }
  }

  function refresh(region) {
    // One poll in flight per region: a slow answer is waited for, never piled on.
    if (region.skillpagerPolling || document.hidden || focusedInside(region)) { return; }
    region.skillpagerPolling = true;
    fetch(region.getAttribute("data-live"), {credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (text === null || focusedInside(region)) { return; }
        if (region.getAttribute("data-last") !== text) {
          region.innerHTML = text;
          region.setAttribute("data-last", text);
          updateTitle(region);
        }
      })
      .catch(function () { /* offline for a moment: try again next period */ })
      .then(function () { region.skillpagerPolling = false; });
  }

  function start() {
    var regions = document.querySelectorAll("[data-live]");
    regions.forEach(function (region) {
      window.setInterval(function () { refresh(region); }, PERIOD_MS);
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { regions.forEach(refresh); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
