import { describe, expect, it } from "vitest";
import { MessageStore } from "../../../static/src/console/store";
import type { Message } from "../../../static/src/console/types";

function message(sequence: number, extra: Partial<Message> = {}): Message {
  return {
    id: `m-${sequence}`,
    thread_id: 1,
    sequence,
    client_id: `c-${sequence}`,
    direction: "inbound",
    author_type: "customer",
    author_agent: null,
    content_type: "TEXT",
    content: { text: `text ${sequence}` },
    is_internal: false,
    created_at: "2026-01-01T10:00:00Z",
    delivered_at: null,
    seen_at: null,
    attachments: [],
    ...extra,
  };
}

describe("MessageStore", () => {
  it("keeps one copy per sequence, in order", () => {
    const store = new MessageStore();
    expect(store.add([message(2), message(1)]).map((m) => m.sequence)).toEqual([2, 1]);
    expect(store.add([message(2), message(3)]).map((m) => m.sequence)).toEqual([3]);
    expect(store.list().map((m) => m.sequence)).toEqual([1, 2, 3]);
  });

  it("resyncs from the last sequence without a hole", () => {
    const store = new MessageStore();
    store.add([message(5), message(6), message(8)]);
    expect(store.firstSequence).toBe(5);
    expect(store.lastContiguous).toBe(6);
    expect(store.isGap(7)).toBe(false);
    expect(store.isGap(9)).toBe(true);
    store.add([message(7)]);
    expect(store.lastContiguous).toBe(8);
  });

  it("an empty store has no gap and resyncs from zero", () => {
    const store = new MessageStore();
    expect(store.lastContiguous).toBe(0);
    expect(store.isGap(10)).toBe(false);
  });

  it("marks only the brand's public messages seen", () => {
    const store = new MessageStore();
    store.add([
      message(1),
      message(2, { direction: "outbound", author_type: "agent" }),
      message(3, { direction: "outbound", author_type: "agent", is_internal: true }),
      message(4, { direction: "outbound", author_type: "agent" }),
    ]);
    const changed = store.markRead(3, "seen_at", "2026-01-01T10:01:00Z");
    expect(changed.map((m) => m.sequence)).toEqual([2]);
    expect(store.list()[1].delivered_at).toBe("2026-01-01T10:01:00Z");
    expect(store.markRead(4, "delivered_at", "x").map((m) => m.sequence)).toEqual([4]);
  });
});
