/* A job's page (print job, print run, large register import): ask the server for the job's progress every second
   (a print run's: each village's too); reload when it is done or failed. */
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-finished") === "1" || !window.fetch) {
    return;
  }
  var url = job.getAttribute("data-status-url");
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
  }

  function showPart(part) {
    var row = document.getElementById("part-" + part.id);
    if (!row) {
      return;
    }
    var partStatus = row.querySelector("[data-part-status]");
    var partBar = row.querySelector("[data-part-progress]");
    partStatus.textContent = part.label;
    partStatus.className = "status status-" + part.status;
    partBar.value = part.percent;
    partBar.textContent = part.percent + "%";
    row.querySelector("[data-part-count]").textContent = part.total ? part.done + " / " + part.total : "";
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
        if (state.finished) {
          window.location.reload();  // the server draws the download links or the reason it failed
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
