/* 抽查 checklist (templates/web/inspections/folder.html): the 动态记录 date picks 有/无 by itself, and the service
   the register knows can be taken as the date with one tap. The page works without it: the server decides 有/无
   from the date as well. */
(function () {
  "use strict";
  var form = document.getElementById("checklist-form");
  if (!form) { return; }
  var start = form.getAttribute("data-window-start");
  var dates = form.querySelectorAll("input.seen-date");
  function follow(input) {
    if (!input.value) { return; }
    var item = input.closest("fieldset.check-item");
    var key = input.id.replace(/^seen-/, "");
    var choice = item.querySelector('input[name="item-' + key + '"][value="' + (input.value >= start ? "pass" : "fail") + '"]');
    if (choice) { choice.checked = true; }
  }
  Array.prototype.forEach.call(dates, function (input) {
    input.addEventListener("change", function () { follow(input); });
    var item = input.closest("fieldset.check-item");
    var use = item.querySelector("button.use-hint");
    if (use && !form.querySelector("fieldset.checklist").disabled) {
      use.hidden = false;
      use.addEventListener("click", function () { input.value = use.getAttribute("data-day"); follow(input); });
    }
  });
})();
