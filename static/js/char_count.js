// Character counters under long text fields (loyalty.base.web.CountedTextarea): "123 of 4,000
// characters", in the page's language. Without this script the help text says the limit and
// the server's form error counts; nothing stops typing or pasting (no maxlength).
(function () {
  "use strict";
  var numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

  function length(text) {
    return Array.from(text.replace(/\r\n/g, "\n")).length; // characters, as the server counts
  }

  function attach(counter) {
    if (counter.dataset.ready) return; // (each field brings the script: it may run twice)
    counter.dataset.ready = "1";
    var field = document.getElementById(counter.id.replace(/_count$/, ""));
    if (!field) return;
    var limit = Number(counter.dataset.limit);
    // A quiet summary for screen readers, after a pause in typing (not on every key).
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    counter.after(status);
    var timer = null;
    function update() {
      var count = length(field.value);
      var over = count > limit;
      counter.textContent = counter.dataset[over ? "over" : "within"].replace(
        "{count}", numbers.format(count));
      counter.classList.toggle("over", over);
      clearTimeout(timer);
      timer = setTimeout(function () { status.textContent = counter.textContent; }, 1000);
    }
    field.addEventListener("input", update);
    update();
    status.textContent = "";
    counter.hidden = false;
  }

  document.querySelectorAll(".char-count[data-limit]").forEach(attach);
})();
