/* A job's page (print job, print run, large register import): ask the server for the job's progress every second
   (a print run's: each village's too; a county run's: each site's); reload when it is done or failed. */
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-finished") === "1" || !window.fetch) {
    return;
  }
  var url = job.getAttribute("data-status-url");
  var planning = job.getAttribute("data-planning") === "1";  // a county run planning: its parts come next
  var status = document.getElementById("job-status");
  var bar = document.getElementById("job-progress");
  var percent = document.getElementById("job-percent");
  var count = document.getElementById("job-count");

  function show(state) {
    status.textContent = state.label;
    status.className = "status status-" + state.status;
    bar.value = state.percent;
    bar.textContent = state.percent + "%";
    percent.textContent = state.percent + "%";
    count.textContent = state.total ? state.done + " / " + state.total : "";
    (state.parts || []).forEach(showPart);
    (state.sites || []).forEach(showSite);
  }

  function showSite(site) {  // a county print run: each site's share of it
    var group = document.getElementById("site-" + site.site);
    if (!group) {
      return;
    }
    var siteStatus = group.querySelector("[data-site-status]");
    var siteBar = group.querySelector("[data-site-progress]");
    siteStatus.textContent = site.label;
    siteStatus.className = "status status-" + site.status;
    siteBar.value = site.percent;
    siteBar.textContent = site.percent + "%";
    group.querySelector("[data-site-count]").textContent = site.total ? site.done + " / " + site.total : "";
  }

  function showRow(row, kind, state) {  // a part's row, or a county run's site (data-part-… / data-site-…)
    if (!row) {
      return;
    }
    var rowStatus = row.querySelector("[data-" + kind + "-status]");
    var rowBar = row.querySelector("[data-" + kind + "-progress]");
    rowStatus.textContent = state.label;
    rowStatus.className = "status status-" + state.status;
    rowBar.value = state.percent;
    rowBar.textContent = state.percent + "%";
    row.querySelector("[data-" + kind + "-count]").textContent = state.total ? state.done + " / " + state.total : "";
  }

  function showPart(part) {
    showRow(document.getElementById("part-" + part.id), "part", part);
  }

  function showSite(site) {  // a county print run: each site's share of it
    showRow(document.getElementById("site-" + site.site), "site", site);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (state.finished || (planning && !state.planning)) {
          window.location.reload();  // the server draws the download links, the parts or the reason it failed
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);  // signed out or server restarting: keep trying, more slowly
      });
  }

  window.setTimeout(poll, 500);
}());
