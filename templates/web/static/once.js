// A form marked data-once is sent once: a second click (a double click on 开始打印, 保存, 创建 …) while the first
// is on its way does nothing. Loaded on every page (base.html); CSP forbids inline handlers.
"use strict";
document.querySelectorAll("form[data-once]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (form.getAttribute("data-sent")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
  });
});
