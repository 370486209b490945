// Archive-room pages: the print buttons (CSP forbids inline handlers). Forms sent once: once.js.
"use strict";
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
