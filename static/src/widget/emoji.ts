/** A small emoji palette, loaded on first use. */

export const EMOJI = "😀 😂 😊 😍 🙂 😉 😢 😮 👍 👎 👏 🙏 🎉 ❤️ 🔥 ✅ ❌ ⭐ ☕ 🍵 📦 🚚 💳 🛒".split(" ");

export function emojiPanel(insert: (symbol: string) => void): HTMLElement {
  const panel = document.createElement("div");
  panel.className = "emoji";
  panel.setAttribute("role", "group");
  for (const symbol of EMOJI) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = symbol;
    button.addEventListener("click", () => insert(symbol));
    panel.append(button);
  }
  return panel;
}
