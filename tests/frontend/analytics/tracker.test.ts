import { beforeEach, describe, expect, it, vi } from "vitest";
import { journeyLoad, journeyPageView } from "../../../static/src/analytics/journey";
import { createTracker } from "../../../static/src/analytics/tracker";
import { fakeContext, fakeStore } from "../chatmanager/fakes";

interface Sent {
  method: string;
  url: string;
  body: Record<string, unknown>;
}

function harness(respond: (url: string) => Promise<Response> = async () => new Response("{}", { status: 202 })) {
  let now = 1_700_000_000_000;
  const sent: Sent[] = [];
  const beacons: Sent[] = [];
  const fetcher = vi.fn(async (url: string, init: RequestInit) => {
    sent.push({ method: String(init.method), url, body: JSON.parse(String(init.body)) });
    return respond(url);
  });
  const context = fakeContext();
  const store = fakeStore();
  const beacon = (url: string, blob: Blob) => {
    blob.text().then((text) => beacons.push({ method: "BEACON", url, body: JSON.parse(text) }));
    return true;
  };
  const tracker = createTracker(context, store, {
    now: () => now,
    fetch: fetcher as unknown as typeof fetch,
    beacon,
  });
  return { tracker, sent, beacons, store, context, fetcher, advance: (ms: number) => (now += ms), now: () => now };
}

const flushTimers = async () => {
  vi.advanceTimersByTime(1500);
  await Promise.resolve();
  await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
  history.replaceState(null, "", "/");
  document.title = "Home";
});

describe("web analytics", () => {
  it("sends the page view in a small batch with the visitor, visit and sentAt", async () => {
    const { sent, context } = harness();
    await flushTimers();
    expect(sent).toHaveLength(1);
    expect(sent[0].method).toBe("POST");
    expect(sent[0].url).toBe("https://parley.example/analytics/1.0/brand/1001/channel/chat_live/events");
    const body = sent[0].body as { visitor: string; visit: string; sentAt: number; events: Record<string, unknown>[] };
    expect([body.visitor, body.visit, body.sentAt]).toEqual(["visitor-0001", "visit-00001", 1_700_000_000_000]);
    expect(body.events).toEqual([
      { type: "page_view", id: expect.stringMatching(/^[0-9a-f]{24}$/), at: 1_700_000_000_000, url: location.href,
        title: "Home", referrer: "", timeOnPage: 0 },
    ]);
    expect(context.events.map(([name]) => name)).toEqual(["analytics:pageview"]);
  });

  it("counts a history change as a page view and PUTs the previous one's time on page", async () => {
    const { tracker, sent, advance } = harness();
    await flushTimers();
    const first = tracker.journey().pages[0];
    advance(12_000);
    document.title = "Pricing";
    history.pushState(null, "", "/pricing");
    await flushTimers();
    expect(sent.map((s) => s.method)).toEqual(["POST", "PUT", "POST"]);
    expect(sent[1].url).toBe(`https://parley.example/analytics/1.0/brand/1001/channel/chat_live/page-views/${first.id}`);
    expect(sent[1].body).toMatchObject({ visitor: "visitor-0001", visit: "visit-00001", timeOnPage: 12_000, url: first.url });
    expect((sent[2].body.events as Record<string, unknown>[])[0]).toMatchObject({
      type: "page_view", title: "Pricing", referrer: first.url, timeOnPage: 0,
    });
    expect(tracker.journey().pages.map((page) => page.path)).toEqual(["/", "/pricing"]);
    history.replaceState(null, "", "/pricing");
    expect(tracker.journey().pages).toHaveLength(2);
  });

  it("hands the last events and the final time on page to a beacon when the page is hidden", async () => {
    const { tracker, beacons, sent, advance } = harness();
    await flushTimers();
    advance(5000);
    tracker.track("button_clicked", "3", { mode: "online" });
    window.dispatchEvent(new Event("pagehide"));
    await vi.runAllTimersAsync();
    expect(sent).toHaveLength(1);
    expect(beacons).toHaveLength(1);
    const events = beacons[0].body.events as Record<string, unknown>[];
    expect(events.map((event) => event.type)).toEqual(["button_clicked", "page_view"]);
    expect(events[0]).toMatchObject({ name: "3", data: { mode: "online" }, pageView: tracker.journey().pages[0].id });
    expect(events[1]).toMatchObject({ timeOnPage: 5000 });
  });

  it("disables itself for the window when the backend cannot be reached, silently", async () => {
    const errors = vi.spyOn(console, "error");
    const warnings = vi.spyOn(console, "warn");
    const { tracker, sent, store } = harness(async () => {
      throw new TypeError("Failed to fetch");
    });
    await flushTimers();
    await Promise.resolve();
    expect(store.getSession("analytics.disabled")).toBe(true);
    expect(tracker.disabled()).toBe(true);
    tracker.track("chat_shown");
    await flushTimers();
    expect(sent).toHaveLength(1);
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
  });

  it("a 404 (unknown channel) disables it too; a 429 does not", async () => {
    const gone = harness(async () => new Response("{}", { status: 404 }));
    await flushTimers();
    await Promise.resolve();
    expect(gone.tracker.disabled()).toBe(true);
    const busy = harness(async () => new Response("{}", { status: 429 }));
    await flushTimers();
    await Promise.resolve();
    expect(busy.tracker.disabled()).toBe(false);
  });
});

describe("page API", () => {
  it("parley('track') records offer responses and custom events, nothing else", async () => {
    const { context, sent } = harness();
    context.commands.track("offer_response", "spring-sale", { accepted: true });
    context.commands.track("custom", "bad name!", {});
    context.commands.track("trigger_executed", "1");
    await flushTimers();
    const events = sent[0].body.events as Record<string, unknown>[];
    expect(events.map((event) => [event.type, event.name, event.data])).toEqual([
      ["page_view", undefined, undefined],
      ["offer_response", "spring-sale", { accepted: true }],
    ]);
  });
});

describe("journey", () => {
  it("starts a new visit after the idle time and counts visits", () => {
    const store = fakeStore();
    const first = journeyLoad(store, "visitor-0001", "visit-00001", 30 * 60_000, 0);
    journeyPageView(store, first, { url: "https://shop.example/a", title: "A" }, 1000);
    const same = journeyLoad(store, "visitor-0001", "visit-00001", 30 * 60_000, 1000 + 29 * 60_000);
    expect([same.visit, same.visitNumber, same.pages.length]).toEqual(["visit-00001", 1, 1]);
    const next = journeyLoad(store, "visitor-0001", "visit-00001", 30 * 60_000, 1000 + 31 * 60_000);
    expect(next.visit).not.toBe("visit-00001");
    expect([next.visitNumber, next.pages.length]).toEqual([2, 0]);
  });
});
