// To Be Sent: the header checkbox ticks or clears every row's checkbox.
document.addEventListener("change", function (event) {
  if (event.target.id !== "pick-all") return;
  document.querySelectorAll("input.send-pick").forEach(function (box) {
    box.checked = event.target.checked;
  });
});
