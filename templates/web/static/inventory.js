/* An open count's page (盘点): while clerks scan at the scan station, ask live.json every few seconds for the counts
   and the reads newer than the newest one shown, and put them on the page without a reload. The tables per category
   stay as loaded (a notice offers 刷新 once they are behind); when the count is closed elsewhere, the page reloads.
   Served as a static file: the app's CSP forbids inline scripts. */
(function () {
  "use strict";
  var live = document.getElementById("inventory-live");
  if (!live || live.getAttribute("data-state") !== "open" || !window.fetch) {
    return;
  }
  var POLL_MS = 3000;
  var RETRY_MS = 15000;  // signed out, server restarting, network down: keep trying, more slowly
  var KEEP = 10;  // reads listed, as the server renders them
  var url = live.getAttribute("data-url");
  var after = parseInt(live.getAttribute("data-after"), 10) || 0;
  var loadedScans = parseInt(live.getAttribute("data-scans"), 10) || 0;
  var table = document.getElementById("latest-scans-table");
  var rows = document.getElementById("latest-scans-rows");
  var empty = document.getElementById("latest-scans-empty");
  var stale = document.getElementById("inventory-stale");
  var timer = null;

  function setText(id, value) {
    var element = document.getElementById(id);
    if (element && typeof value === "string" && element.textContent !== value) {
      element.textContent = value;
    }
  }

  function cell(value, className) {
    var td = document.createElement("td");
    if (className) {
      td.className = className;
    }
    td.textContent = value;  // names are text, never markup
    return td;
  }

  function addReads(latest) {
    // newest first from the server: insert oldest first so the newest ends on top
    for (var i = latest.length - 1; i >= 0; i -= 1) {
      var line = latest[i];
      if (rows.querySelector('tr[data-scan="' + line.id + '"]')) {
        continue;
      }
      var tr = document.createElement("tr");
      tr.className = "level-" + line.level + " fresh";
      tr.setAttribute("data-scan", String(line.id));
      tr.setAttribute("data-category", line.category);
      tr.appendChild(cell(line.at, "mono"));
      tr.appendChild(cell(line.folder, "code"));
      tr.appendChild(cell(line.head_name, "name"));
      tr.appendChild(cell(line.shelf, "code"));
      tr.appendChild(cell(line.label, ""));
      rows.insertBefore(tr, rows.firstChild);
    }
    while (rows.children.length > KEEP) {
      rows.removeChild(rows.lastChild);
    }
    if (rows.children.length) {
      table.hidden = false;
      empty.hidden = true;
    }
  }

  function show(data) {
    Object.keys(data.counts).forEach(function (category) {
      var n = live.querySelector('[data-category="' + category + '"] .n');
      if (n && n.textContent !== String(data.counts[category])) {
        n.textContent = String(data.counts[category]);
      }
    });
    setText("inventory-expected", data.text.expected);
    setText("inventory-scanned", data.text.scanned);
    setText("mark-missing-text", data.text.mark_missing);
    setText("mark-found-text", data.text.mark_found);
    Array.prototype.forEach.call(rows.querySelectorAll("tr.fresh"), function (tr) { tr.classList.remove("fresh"); });
    if (data.latest.length) {
      addReads(data.latest);
    }
    after = Math.max(after, data.last_scan);
    live.setAttribute("data-after", String(after));
    live.setAttribute("data-live-scans", String(data.scans));
    if (stale) {
      stale.hidden = !(data.scans > loadedScans);  // only when reads came in since the page was drawn
    }
  }

  function schedule(ms) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, ms);
  }

  function poll() {
    if (document.hidden) {
      return;  // picked up again on visibilitychange
    }
    fetch(url + "?after=" + after, {
      credentials: "same-origin", cache: "no-store", redirect: "error", headers: { Accept: "application/json" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.state !== "open") {
          window.location.reload();  // closed at another desk: the server draws the closed page
          return;
        }
        show(data);
        schedule(POLL_MS);
      })
      .catch(function () {
        schedule(RETRY_MS);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      schedule(0);
    }
  });
  schedule(POLL_MS);
}());
