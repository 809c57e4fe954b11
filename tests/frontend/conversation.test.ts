import { describe, expect, it } from "vitest";
import { Conversation, fromWire } from "../../static/src/widget/conversation";

function wire(overrides: Record<string, unknown> = {}) {
  return {
    id: "m-1",
    idOnExternalPlatform: "c-1",
    threadIdOnExternalPlatform: "t-1",
    direction: "outbound",
    messageContent: { type: "TEXT", payload: { text: "Hello" } },
    createdAt: "2026-11-21T10:00:00+00:00",
    createdAtWithMilliseconds: "2026-11-21T10:00:00.000+00:00",
    attachments: [],
    authorUser: { id: 7, firstName: "Alice", surname: "Agent" },
    ...overrides,
  };
}

describe("fromWire", () => {
  it("maps an agent message", () => {
    expect(fromWire(wire())).toEqual({
      id: "m-1",
      clientId: "c-1",
      direction: "outbound",
      type: "TEXT",
      payload: { text: "Hello" },
      text: "Hello",
      author: "Alice Agent",
      createdAt: "2026-11-21T10:00:00.000+00:00",
      attachments: [],
      status: "sent",
    });
  });

  it("takes rich texts from their content objects and falls back to fallbackText", () => {
    const quick = fromWire(wire({ messageContent: { type: "QUICK_REPLIES", payload: { text: { content: "Pick one" }, actions: [] } } }));
    const card = fromWire(wire({ messageContent: { type: "ADAPTIVE_CARD", payload: { body: [] }, fallbackText: "A card" } }));

    expect(quick.text).toBe("Pick one");
    expect(card.text).toBe("A card");
  });

  it("reads the agent's read mark and attachments", () => {
    const message = fromWire(
      wire({
        direction: "inbound",
        authorUser: null,
        authorEndUserIdentity: { fullName: "Jane Q" },
        userStatistics: { readAt: "2026-11-21T10:01:00Z" },
        attachments: [{ url: "https://p/files/x", friendlyName: "a.png", mimeType: "image/png", previewUrl: "https://p/files/x" }],
      }),
    );

    expect(message.status).toBe("seen");
    expect(message.author).toBe("Jane Q");
    expect(message.attachments).toEqual([{ url: "https://p/files/x", name: "a.png", mimeType: "image/png", previewUrl: "https://p/files/x" }]);
  });
});

describe("Conversation", () => {
  it("replaces the pending copy when the server's copy arrives, keeping one row", () => {
    const conversation = new Conversation("t-1");
    conversation.upsert({ ...fromWire(wire({ id: "c-9", idOnExternalPlatform: "c-9", direction: "inbound" })), status: "sending" });
    conversation.upsert(fromWire(wire({ id: "m-9", idOnExternalPlatform: "c-9", direction: "inbound" })));

    expect(conversation.messages.map((m) => [m.id, m.clientId, m.status])).toEqual([["m-9", "c-9", "sent"]]);
  });

  it("never lowers a mark when an older copy arrives late", () => {
    const conversation = new Conversation("t-1");
    conversation.upsert({ ...fromWire(wire({ direction: "inbound" })), status: "seen" });
    conversation.upsert(fromWire(wire({ direction: "inbound" })));

    expect(conversation.messages[0].status).toBe("seen");
  });

  it("orders messages by time whatever the arrival order", () => {
    const conversation = new Conversation("t-1");
    conversation.upsert(fromWire(wire({ id: "b", idOnExternalPlatform: "b", createdAtWithMilliseconds: "2026-11-21T10:00:02.000Z" })));
    conversation.upsert(fromWire(wire({ id: "a", idOnExternalPlatform: "a", createdAtWithMilliseconds: "2026-11-21T10:00:01.000Z" })));

    expect(conversation.messages.map((m) => m.id)).toEqual(["a", "b"]);
  });

  it("marks the visitor's sent messages up to the one read, and no agent message", () => {
    const conversation = new Conversation("t-1");
    const at = (s: number) => `2026-11-21T10:00:0${s}.000Z`;
    conversation.upsert(fromWire(wire({ id: "1", idOnExternalPlatform: "1", direction: "inbound", createdAtWithMilliseconds: at(1) })));
    conversation.upsert(fromWire(wire({ id: "2", idOnExternalPlatform: "2", direction: "outbound", createdAtWithMilliseconds: at(2) })));
    conversation.upsert(fromWire(wire({ id: "3", idOnExternalPlatform: "3", direction: "inbound", createdAtWithMilliseconds: at(3) })));
    conversation.upsert({ ...fromWire(wire({ id: "4", idOnExternalPlatform: "4", direction: "inbound", createdAtWithMilliseconds: at(4) })), status: "sending" });

    conversation.mark("seen", "1");
    expect(conversation.messages.map((m) => m.status)).toEqual(["seen", "sent", "sent", "sending"]);
    conversation.mark("delivered");
    expect(conversation.messages.map((m) => m.status)).toEqual(["seen", "sent", "delivered", "sending"]);
    expect(conversation.lastOutbound()?.id).toBe("2");
  });
});
