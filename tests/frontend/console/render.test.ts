import { describe, expect, it } from "vitest";
import { customVariables } from "../../../static/src/console/panel";
import { messageBody, messageItem } from "../../../static/src/console/render";
import type { Message } from "../../../static/src/console/types";

function message(content_type: string, content: Message["content"], extra: Partial<Message> = {}): Message {
  return {
    id: "m",
    thread_id: 1,
    sequence: 1,
    client_id: "c",
    direction: "inbound",
    author_type: "customer",
    author_agent: null,
    content_type,
    content,
    is_internal: false,
    created_at: "2026-01-01T10:00:00Z",
    delivered_at: null,
    seen_at: null,
    attachments: [],
    ...extra,
  };
}

describe("messageBody", () => {
  it("renders visitor text as text, never as markup", () => {
    const body = messageBody(message("TEXT", { text: "<img src=x onerror=alert(1)><script>alert(2)</script>" }));
    expect(body.querySelector("img, script")).toBeNull();
    expect(body.textContent).toBe("<img src=x onerror=alert(1)><script>alert(2)</script>");
  });

  it("renders quick replies and list pickers as labelled chips", () => {
    const quick = messageBody(message("QUICK_REPLIES", { payload: { text: "Pick", actions: [{ text: "<b>Yes</b>" }, { text: "No" }] } }));
    expect([...quick.querySelectorAll(".chip")].map((chip) => chip.textContent)).toEqual(["<b>Yes</b>", "No"]);
    expect(quick.querySelector("b")).toBeNull();
    const list = messageBody(message("LIST_PICKER", { payload: { title: "Sizes", text: "Choose", actions: [{ text: "S", description: "small" }] } }));
    expect(list.querySelector(".title")?.textContent).toBe("Sizes");
    expect(list.querySelector("small")?.textContent).toBe(" small");
  });

  it("keeps javascript: links out of rich links and attachments", () => {
    const evil = messageBody(message("RICH_LINK", { payload: { title: "Click", url: "javascript:alert(1)", media: { url: "javascript:x" } } }));
    expect(evil.querySelector("a")).toBeNull();
    expect(evil.querySelector("img")).toBeNull();
    expect(evil.textContent).toBe("Click");
    const good = messageBody(message("RICH_LINK", { payload: { title: "Tea", url: "https://shop.example/tea" } }));
    const link = good.querySelector("a")!;
    expect(link.getAttribute("href")).toBe("https://shop.example/tea");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    const file = messageBody(
      message("TEXT", { text: "" }, { attachments: [{ id: "a", file_name: "x.pdf", mime_type: "application/pdf", size: 2048, url: "javascript:alert(1)" }] }),
    );
    expect(file.querySelector("a")).toBeNull();
  });

  it("shows the fallback text of plugins and adaptive cards", () => {
    expect(messageBody(message("ADAPTIVE_CARD", { fallbackText: "A card", payload: { type: "AdaptiveCard" } })).textContent).toBe("A card");
  });
});

describe("messageItem", () => {
  it("labels notes and receipts", () => {
    const note = messageItem(message("TEXT", { text: "psst" }, { direction: "outbound", is_internal: true, author_agent: { id: 1, name: "Alice" } }), "Vera");
    expect(note.className).toBe("message note");
    expect(note.querySelector(".author")?.textContent).toBe("Note · Alice");
    expect(note.querySelector(".receipt")).toBeNull();
    const seen = messageItem(message("TEXT", { text: "hi" }, { direction: "outbound", seen_at: "2026-01-01T10:00:00Z", author_agent: { id: 1, name: "Alice" } }), "Vera");
    expect(seen.querySelector(".receipt")?.textContent).toBe("Seen");
  });
});

describe("customVariables", () => {
  it("accepts a mapping or the wire's identifier/value list", () => {
    expect(customVariables({ plan: "gold" })).toEqual({ plan: "gold" });
    expect(customVariables([{ identifier: "plan", value: "gold" }, { name: "cart", value: 3 }, "junk"])).toEqual({ plan: "gold", cart: 3 });
    expect(customVariables(null)).toEqual({});
  });
});
