import { describe, expect, it } from "vitest";
import { messageData, sendOfflineMessage } from "../../static/src/widget/events";
import { fileProblem, matchesType } from "../../static/src/widget/files";
import { DEFAULTS, format, texts } from "../../static/src/widget/i18n";
import type { VisitorClient } from "../../static/src/widget/protocol";

describe("SendMessage data", () => {
  it("builds a text message with the first message's custom fields", () => {
    const data = messageData({
      threadId: "t-1",
      messageId: "c-1",
      text: "hello",
      customerFields: [{ ident: "tier", value: "gold" }],
      contactFields: [{ ident: "topic", value: "order" }],
    });

    expect({ ...data, browserFingerprint: undefined }).toEqual({
      messageContent: { type: "TEXT", payload: { text: "hello" } },
      browserFingerprint: undefined,
      idOnExternalPlatform: "c-1",
      thread: { idOnExternalPlatform: "t-1" },
      consumer: { customFields: [{ ident: "tier", value: "gold" }] },
      consumerContact: { customFields: [{ ident: "topic", value: "order" }] },
      attachments: [],
    });
    expect((data.browserFingerprint as any).applicationType).toBe("browser");
  });

  it("sends a postback both in the payload and at the top of the content", () => {
    expect(messageData({ threadId: "t", text: "Yes please", postback: "PB_1" }).messageContent).toEqual({
      type: "TEXT",
      payload: { text: "Yes please", postback: "PB_1" },
      postback: "PB_1",
    });
  });

  it("sends attachments with an empty text", () => {
    const data = messageData({ threadId: "t", attachments: [{ url: "https://p/f/1", friendlyName: "a.pdf" }] });

    expect(data.messageContent).toEqual({ type: "TEXT", payload: { text: "" } });
    expect(data.attachments).toEqual([{ url: "https://p/f/1", friendlyName: "a.pdf" }]);
  });

  it("splits the offline form's name on its last word", async () => {
    const sent: any[] = [];
    const client = { request: async (type: string, data: unknown) => (sent.push([type, data]), { id: "", type: "", data: {} }) };
    await sendOfflineMessage(client as unknown as VisitorClient, { name: "John Ronald Tolkien", email: "jrr@example.com", message: "Hi" });

    expect(sent).toEqual([
      [
        "SendOfflineMessage",
        {
          messageContent: { type: "TEXT", payload: { text: "Hi" } },
          authorCustomerIdentity: { idOnExternalPlatform: "jrr@example.com", firstName: "John Ronald", lastName: "Tolkien" },
        },
      ],
    ]);
  });
});

describe("file restrictions", () => {
  const rules = { enabled: true, maxSizeMb: 1, types: ["image/*", "application/pdf"] };

  it("matches wildcard and exact types", () => {
    expect(matchesType("image/png", rules.types)).toBe(true);
    expect(matchesType("application/pdf", rules.types)).toBe(true);
    expect(matchesType("text/html", rules.types)).toBe(false);
    expect(matchesType("text/html", [])).toBe(true);
  });

  it("explains why a file cannot be sent", () => {
    expect(fileProblem({ size: 2 * 1024 * 1024, type: "image/png" }, rules, DEFAULTS)).toBe("The file is larger than 1 MB.");
    expect(fileProblem({ size: 10, type: "text/html" }, rules, DEFAULTS)).toBe("This type of file is not allowed.");
    expect(fileProblem({ size: 1024 * 1024, type: "image/png" }, rules, DEFAULTS)).toBeNull();
  });
});

describe("translations", () => {
  it("prefers the exact locale, then the language, then English, then defaults", () => {
    const t = texts({ en: { weAreOnline: "Chat", title: "Chat EN" }, de: { title: "Chat DE" }, de_AT: { send: "Schick" } }, "de-AT");

    expect([t.weAreOnline, t.title, t.send, t.minimize]).toEqual(["Chat", "Chat DE", "Schick", "Minimise chat"]);
  });

  it("fills placeholders", () => {
    expect(format(DEFAULTS.queuePosition, { n: 3 })).toBe("You are number 3 in the queue.");
    expect(format("{a} {b}", { a: 1 })).toBe("1 {b}");
  });
});
