// Archive-room pages: the print buttons (CSP forbids inline handlers).
"use strict";
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
