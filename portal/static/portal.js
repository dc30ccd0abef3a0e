// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  // Submit the account switcher as soon as a choice is made.
  var select = document.getElementById("account-switch");
  if (select && select.form) {
    var button = select.form.querySelector("button");
    if (button) button.classList.add("visually-hidden");
    select.addEventListener("change", function () { select.form.submit(); });
  }
});
