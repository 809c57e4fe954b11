import { describe, expect, it, vi } from "vitest";
import { fromWire } from "../../static/src/widget/conversation";
import { DEFAULTS } from "../../static/src/widget/i18n";
import { content, messageRow } from "../../static/src/widget/render";

const HOSTILE = '<img src=x onerror="window.pwned=1">';

function message(type: string, payload: unknown, extra: Record<string, unknown> = {}) {
  return fromWire({
    id: "m",
    idOnExternalPlatform: "m",
    direction: "outbound",
    messageContent: { type, payload },
    createdAt: "2026-11-21T10:00:00Z",
    attachments: [],
    authorUser: { firstName: HOSTILE, surname: "" },
    ...extra,
  });
}

function box(nodes: Node[]): HTMLElement {
  const div = document.createElement("div");
  div.append(...nodes);
  return div;
}

describe("rendering is text-only", () => {
  it("shows markup in a message and an author name as text", () => {
    const row = messageRow(message("TEXT", { text: HOSTILE }), () => undefined, DEFAULTS);

    expect(row.querySelector("img")).toBeNull();
    expect(row.querySelector(".bubble")!.textContent).toBe(HOSTILE);
    expect(row.querySelector(".meta")!.textContent).toContain(HOSTILE);
  });

  it("renders quick replies as buttons that answer with their postback once", () => {
    const reply = vi.fn();
    const nodes = box(
      content(
        message("QUICK_REPLIES", {
          text: { content: "Which one?" },
          actions: [
            { type: "REPLY_BUTTON", text: "Kettle", postback: "PB_KETTLE" },
            { type: "REPLY_BUTTON", text: HOSTILE, postback: "PB_X" },
          ],
        }),
        reply,
        DEFAULTS,
      ),
    );
    const buttons = Array.from(nodes.querySelectorAll("button"));

    expect(nodes.querySelector(".bubble")!.textContent).toBe("Which one?");
    expect(buttons.map((b) => b.textContent)).toEqual(["Kettle", HOSTILE]);
    buttons[0].click();
    expect(reply).toHaveBeenCalledWith("Kettle", "PB_KETTLE");
    expect(buttons.every((b) => b.disabled)).toBe(true);
  });

  it("renders a list picker with titles and descriptions", () => {
    const nodes = box(
      content(
        message("LIST_PICKER", {
          title: { content: "Delivery" },
          text: { content: "Choose a slot" },
          actions: [{ type: "REPLY_BUTTON", text: "Morning", description: "8–12", postback: "AM" }],
        }),
        () => undefined,
        DEFAULTS,
      ),
    );

    expect(nodes.querySelector("strong")!.textContent).toBe("Delivery");
    expect(nodes.querySelector("button")!.title).toBe("8–12");
  });

  it("links a rich link only to http(s) URLs", () => {
    const good = box(content(message("RICH_LINK", { title: { content: "Teapot" }, url: "https://shop.example/teapot", media: { url: "https://cdn.example/t.png" } }), () => undefined, DEFAULTS));
    const bad = box(content(message("RICH_LINK", { title: { content: "Click" }, url: "javascript:alert(1)", media: { url: "data:image/png;base64,AA" } }), () => undefined, DEFAULTS));

    const link = good.querySelector("a")!;
    expect(link.getAttribute("href")).toBe("https://shop.example/teapot");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(good.querySelector("img")!.getAttribute("src")).toBe("https://cdn.example/t.png");
    expect(bad.querySelector("a")).toBeNull();
    expect(bad.querySelector("img")).toBeNull();
    expect(bad.textContent).toBe("Click");
  });

  it("renders plugin buttons and texts", () => {
    const reply = vi.fn();
    const nodes = box(
      content(
        message("PLUGIN", {
          elements: [{ type: "MENU", elements: [{ type: "TITLE", text: "Menu" }, { type: "BUTTON", text: "Track order", postback: "TRACK" }] }],
        }),
        reply,
        DEFAULTS,
      ),
    );

    expect(nodes.querySelector("strong")!.textContent).toBe("Menu");
    nodes.querySelector("button")!.click();
    expect(reply).toHaveBeenCalledWith("Track order", "TRACK");
  });

  it("shows image attachments as previews and other files as links", () => {
    const nodes = box(
      content(
        message("TEXT", { text: "" }, {
          attachments: [
            { url: "https://p.example/files/a", friendlyName: "a.png", mimeType: "image/png", previewUrl: "https://p.example/files/a" },
            { url: "https://p.example/files/b", friendlyName: "b.pdf", mimeType: "application/pdf" },
            { url: "javascript:alert(1)", friendlyName: "c.txt", mimeType: "text/plain" },
          ],
        }),
        () => undefined,
        DEFAULTS,
      ),
    );

    expect(nodes.querySelector("img")!.getAttribute("alt")).toBe("a.png");
    expect(Array.from(nodes.querySelectorAll("a")).map((a) => a.getAttribute("href"))).toEqual([
      "https://p.example/files/a",
      "https://p.example/files/b",
    ]);
    expect(nodes.textContent).toContain("c.txt");
  });

  it("labels the visitor's own messages with their delivery mark", () => {
    const row = messageRow({ ...message("TEXT", { text: "hi" }), direction: "inbound", status: "seen" }, () => undefined, DEFAULTS);

    expect(row.className).toBe("msg in");
    expect(row.querySelector(".meta")!.getAttribute("data-status")).toBe("seen");
    expect(row.querySelector(".meta")!.textContent).toMatch(/Seen$/);
    expect(row.querySelector(".sr")!.textContent).toBe("You:");
  });
});
