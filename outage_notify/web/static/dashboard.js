// The storm dashboard, live: every 10 s the figures are fetched again (/dashboard?partial=1,
// an HTML fragment drawn by the server) and put in place of the old ones. Paused while the tab
// is hidden, and by the button (WCAG 2.2.2: content that updates by itself can be paused);
// figures that changed are marked briefly, unless the reader prefers reduced motion. Without
// JavaScript the page is the same, with its Refresh link.
(function () {
  "use strict";
  var EVERY_MS = 10000;
  var region = document.getElementById("dash-figures");
  var pause = document.getElementById("dash-pause");
  var live = document.getElementById("dash-live");
  if (!region || !pause || !live || !window.fetch || !window.DOMParser) {
    return;
  }
  var source = region.getAttribute("data-partial");
  var reduced = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  // Its sentences come from the page, in the page's language.
  var words = {
    live: live.getAttribute("data-live") || "",
    paused: live.getAttribute("data-paused") || "",
    stopped: live.getAttribute("data-stopped") || "",
    unreachable: live.getAttribute("data-unreachable") || ""
  };
  var paused = false;
  var stopped = false;
  var timer = null;

  function say(text) {
    live.textContent = text;
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    if (!paused && !stopped && document.visibilityState === "visible") {
      timer = window.setTimeout(refresh, EVERY_MS);
    }
  }

  function refresh() {
    fetch(source, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          stopped = true;
          say(words.stopped);
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          replace(html);
          say(paused ? words.paused : words.live);
        }
      })
      .catch(function () {
        say(words.unreachable);
      })
      .then(schedule);
  }

  // Put the new figures in place, keeping what the reader had open or focused.
  function replace(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").body;
    var before = figures(region);
    var open = Array.prototype.map.call(region.querySelectorAll("details[open]"), function (d) {
      return d.id;
    });
    var focused = region.contains(document.activeElement) ? document.activeElement.id : "";
    region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
    open.forEach(function (id) {
      var details = id && document.getElementById(id);
      if (details) {
        details.open = true;
      }
    });
    if (focused && document.getElementById(focused)) {
      document.getElementById(focused).focus();
    }
    mark(before);
  }

  function figures(root) {
    var found = {};
    root.querySelectorAll("[data-figure]").forEach(function (node) {
      found[node.id] = node.textContent;
    });
    return found;
  }

  function mark(before) {
    if (reduced && reduced.matches) {
      return;
    }
    region.querySelectorAll("[data-figure]").forEach(function (node) {
      if (node.id in before && before[node.id] !== node.textContent) {
        node.classList.add("changed");
      }
    });
  }

  pause.hidden = false;
  pause.addEventListener("click", function () {
    paused = !paused;
    pause.setAttribute("aria-pressed", paused ? "true" : "false");
    say(paused ? words.paused : words.live);
    if (!paused) {
      refresh();
    } else {
      schedule();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !paused && !stopped) {
      refresh(); // catch up at once on coming back
    } else {
      schedule();
    }
  });
  say(words.live);
  schedule();
})();
