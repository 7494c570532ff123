// "Send a gift" (templates/admin/rewards/gift_send.html): show only the chosen card's preview.
// Without JavaScript every card's preview is shown.
(function () {
  "use strict";
  var select = document.getElementById("id_template");
  var box = document.getElementById("gift-previews");
  if (!select || !box) {
    return;
  }
  box.classList.add("js");
  function show() {
    box.querySelectorAll(".gift-card").forEach(function (card) {
      card.hidden = card.getAttribute("data-template") !== select.value;
    });
  }
  select.addEventListener("change", show);
  show();
})();
