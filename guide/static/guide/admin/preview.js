// Live preview of a chat button or an invitation on its admin page: redrawn on
// every keystroke from the form's own fields. Text goes in with textContent only.
(function () {
  "use strict";
  function field(name) {
    var input = document.getElementById("id_" + name);
    if (!input) return "";
    return input.type === "checkbox" ? input.checked : input.value;
  }
  function color(name, fallback) {
    var value = field(name);
    return /^#[0-9a-fA-F]{6}$/.test(value) ? value : fallback;
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
  function figure(caption, content) {
    var fig = el("figure");
    fig.appendChild(el("figcaption", "", caption));
    fig.appendChild(content);
    return fig;
  }
  function button(text) {
    var node = el("button", "pv-button", text);
    node.type = "button";
    node.style.background = color("background_color", "#2f5d8a");
    node.style.color = color("text_color", "#ffffff");
    return node;
  }
  function invitation(title, text, accept) {
    var box = el("div", "pv-invitation");
    box.style.background = color("background_color", "#2f5d8a");
    box.style.color = color("text_color", "#ffffff");
    box.appendChild(el("strong", "", title));
    box.appendChild(el("p", "", text));
    var yes = box.appendChild(el("span", "", accept));
    yes.style.background = color("text_color", "#ffffff");
    yes.style.color = color("background_color", "#2f5d8a");
    box.appendChild(el("span", "", field("dismiss_label")));
    return box;
  }
  function render(target) {
    target.replaceChildren();
    if (target.dataset.kind === "button") {
      target.appendChild(figure("Online", button(field("online_text"))));
      if (field("offline_enabled")) target.appendChild(figure("Offline", button(field("offline_text"))));
    } else {
      target.appendChild(figure("Online", invitation(field("online_title"), field("online_text"), field("online_accept"))));
      if (field("offline_enabled")) {
        target.appendChild(
          figure("Offline", invitation(field("offline_title"), field("offline_text"), field("offline_accept"))),
        );
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var target = document.querySelector(".parley-preview");
    if (!target) return;
    var form = target.closest("form") || document;
    form.addEventListener("input", function () { render(target); });
    form.addEventListener("change", function () { render(target); });
    render(target);
  });
})();
