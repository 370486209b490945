// The resident page's 登记服务 form: the 第几次服务 list shows only the visits of the chosen schedule, and is
// switched off for a periodic one (高血压 each quarter …). Without the script the server checks the pair anyway.
const schedule = document.getElementById("schedule");
const visit = document.getElementById("visit");
if (schedule && visit) {
  const follow = () => {
    const chosen = schedule.value;
    const anchored = schedule.selectedOptions[0]?.dataset.visits === "1";
    visit.querySelectorAll("optgroup").forEach((group) => {
      const mine = group.dataset.schedule === chosen;
      group.hidden = !mine;
      group.disabled = !mine;
    });
    const current = visit.selectedOptions[0];
    if (!anchored || (current && current.parentElement.tagName === "OPTGROUP" && current.parentElement.disabled)) {
      visit.value = "";
    }
    visit.disabled = !anchored;
  };
  schedule.addEventListener("change", follow);
  follow();
}
