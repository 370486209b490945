/* Print centre: choosing a set puts its key population in 重点人群 (高血压随访 → 高血压患者; a set for everyone, or
   a single form → 全部居民). The clerk may then choose another. Without this script the server does the same for
   the set the page opened with, and a set printed with its own population's choice is printed as the set says. */
(function () {
  "use strict";
  var set = document.getElementById("form_set");
  var population = document.getElementById("population");
  if (!set || !population) {
    return;
  }
  var defaults = JSON.parse(set.getAttribute("data-populations") || "{}");
  set.addEventListener("change", function () {
    population.value = defaults[set.value] || "all";
  });
}());
