// The reference for bench/frontend_budget.py: a snippet that only inserts a static chat button.
(function () {
  var button = document.createElement("button");
  button.id = "static-chat-button";
  button.setAttribute("aria-label", "Chat with us");
  button.textContent = "\u{1F4AC}";
  var s = button.style;
  s.position = "fixed"; s.bottom = "20px"; s.right = "20px"; s.width = "56px"; s.height = "56px";
  s.border = "0"; s.borderRadius = "50%"; s.background = "#2f5d8a"; s.color = "#fff";
  document.body.appendChild(button);
})();
