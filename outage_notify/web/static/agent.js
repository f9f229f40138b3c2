// The agent desk's search as you type: after a pause in typing, the results (an HTML fragment
// from /agent/search, the same the plain form's page shows) replace the ones below the box,
// and the address bar follows, so Back and a reload keep the search. Without this script the
// form still searches on Enter. No library, nothing from another site.
(function () {
  "use strict";
  var PAUSE_MS = 250;
  var form = document.getElementById("agent-search");
  var box = document.getElementById("q");
  var results = document.getElementById("search-results");
  if (!form || !box || !results || !window.fetch) return;
  var timer = null;
  var latest = 0;

  function search() {
    var q = box.value.trim();
    var asked = ++latest;
    var url = form.getAttribute("data-fragment") + "?q=" + encodeURIComponent(q);
    fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (answer) {
        if (!answer.ok) throw new Error("search answered " + answer.status);
        if (answer.redirected) { window.location.href = answer.url; return null; }
        return answer.text();
      })
      .then(function (html) {
        if (html === null || asked !== latest) return; // an older answer arriving late
        results.innerHTML = html;
        var address = q ? "/agent?q=" + encodeURIComponent(q) : "/agent";
        window.history.replaceState(null, "", address);
      })
      .catch(function () { /* the form still works: Enter searches */ });
  }

  box.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, PAUSE_MS);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    search();
  });
})();
