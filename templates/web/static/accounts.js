// Account forms are sent once: a double click on 创建 / 停用 / 修改密码 does not send the form a second time.
document.querySelectorAll("form[data-once]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
});
