// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  // Submit the account switcher as soon as a choice is made.
  var select = document.getElementById("account-switch");
  if (select && select.form) {
    var button = select.form.querySelector("button");
    if (button) button.classList.add("visually-hidden");
    select.addEventListener("change", function () { select.form.submit(); });
  }

  // "Select all on this page" for the invoice ZIP (without script, tick each one).
  var all = document.getElementById("pick-all");
  if (all) {
    var boxes = document.querySelectorAll("input[name='" + all.dataset.picks + "']");
    all.closest("[hidden]").hidden = false;
    all.addEventListener("change", function () {
      for (var j = 0; j < boxes.length; j++) boxes[j].checked = all.checked;
    });
  }

  // In an admin's preview the server refuses customer forms; say so before a click.
  if (document.body.classList.contains("preview")) {
    var buttons = document.querySelectorAll("main form[method='post'] button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].title = "Switched off in a preview";
    }
  }
});
