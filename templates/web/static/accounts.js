// The county administrator's users page (and a county user's page): the village boxes are grouped by site, and only
// the group of the site chosen in 所属机构 shows (the same code, 201, is a village in each site). The other groups'
// boxes are switched off, so they are not sent. Without the script every group shows; the server refuses a village
// of another site than the one chosen, beside the boxes.
"use strict";
document.querySelectorAll("form").forEach(function (form) {
  const site = form.querySelector("select[name=site]");
  const groups = form.querySelectorAll(".site-villages[data-site]");
  if (!site || !groups.length) {
    return;
  }
  const follow = function () {
    groups.forEach(function (group) {
      const mine = group.dataset.site === site.value;
      group.hidden = !mine;
      group.querySelectorAll("input").forEach(function (box) {
        box.disabled = !mine;
      });
    });
  };
  site.addEventListener("change", follow);
  follow();
});
