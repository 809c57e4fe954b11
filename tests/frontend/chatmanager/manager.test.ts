import { beforeEach, describe, expect, it, vi } from "vitest";
import type { AnalyticsApi } from "../../../static/src/analytics/tracker";
import type { Journey } from "../../../static/src/analytics/journey";
import {
  type Action,
  ChatManager,
  ENGAGEMENT_IDLE_MS,
  type ManagerDeps,
  type ProactiveConfig,
  type TriggerConfig,
} from "../../../static/src/chatmanager/manager";
import { fakeStore } from "./fakes";

const NOW = Date.UTC(2026, 10, 18, 10, 0, 0); // a Wednesday, 11:00 in Amsterdam

function proactive(overrides: Partial<ProactiveConfig> = {}): ProactiveConfig {
  return {
    version: "v1",
    timeZone: "Europe/Amsterdam",
    visitIdleMinutes: 30,
    availabilityUrl: "/guide/1.0/brand/1001/channel/chat_live/availability",
    analyticsUrl: "/analytics/1.0/brand/1001/channel/chat_live",
    variables: [],
    buttons: {
      "1": { placement: "floating", position: "bottom-right", background: "#112233", color: "#ffffff",
             online: { text: "Chat with us" }, offline: { text: "Leave a message" } },
      "2": { placement: "floating", position: "bottom-left", background: "#112233", color: "#ffffff",
             online: { text: "Online only" }, offline: null },
    },
    invitations: {
      "7": { position: "bottom-right", background: "#2f5d8a", color: "#ffffff", dismiss: "No thanks",
             online: { title: "<b>Need help?</b>", text: "<img src=x onerror=alert(1)>", accept: "Chat now" }, offline: null },
    },
    triggers: [],
    ...overrides,
  };
}

function journey(pages: string[]): Journey {
  return {
    visitor: "visitor-0001", visit: "visit-00001", visitNumber: 1, visitStartedAt: NOW - 60_000, lastActiveAt: NOW,
    pages: pages.map((path, index) => ({ id: `page-${index}-abcdef`, url: `https://shop.example${path}`, path, title: path, at: NOW - 1000 * (pages.length - index) })),
  };
}

function analyticsFake(pages: string[], pageStartedAt = NOW) {
  const tracked: [string, string, unknown][] = [];
  const api: AnalyticsApi & { tracked: typeof tracked; pages: string[] } = {
    tracked,
    pages,
    track: (type, name = "", data) => void tracked.push([type, name, data]),
    journey: () => journey(api.pages),
    pageStartedAt: () => pageStartedAt,
    disabled: () => false,
  };
  return api;
}

function setup(options: { config?: Record<string, unknown>; proactive?: Partial<ProactiveConfig>; store?: Record<string, unknown>; pages?: string[]; probability?: number; now?: number; pageStartedAt?: number } = {}) {
  const store = fakeStore(options.store);
  const analytics = analyticsFake(options.pages || ["/"], options.pageStartedAt ?? NOW);
  const opened: unknown[] = [];
  const availability = vi.fn(async () => options.probability ?? 1);
  const emitted: [string, unknown][] = [];
  const deps: ManagerDeps = {
    config: { brandId: 1001, channelId: "chat_live", base: "", gateway: "", isLiveChat: true, multiThread: false, display: "floating", ...options.config },
    proactive: proactive(options.proactive),
    store,
    analytics,
    openWidget: async (o) => void opened.push(o ?? {}),
    availability,
    emit: (event, detail) => void emitted.push([event, detail]),
    win: window,
    now: () => options.now ?? NOW,
    random: () => 0.5,
  };
  return { manager: new ChatManager(deps), store, analytics, opened, availability, emitted };
}

const third = { fact: "visit.pageViews", op: "gte", value: 3 };
const pricing20 = { all: [{ fact: "page.path", op: "equals", value: "/pricing" }, { fact: "page.timeOnPage", op: "gte", value: 20 }] };
const trigger = (id: string, rule: unknown, actions: Action[], options: Record<string, boolean> = {}): TriggerConfig => ({
  id, name: `t${id}`, rule, actions, onlyIfAgentsAvailable: false, oncePerVisit: false, stopHere: false, ...options,
});
const shadow = () => document.querySelector("parley-items")?.shadowRoot;

beforeEach(() => {
  document.body.replaceChildren();
  history.replaceState(null, "", "/");
});

describe("trigger order", () => {
  it("embedded wins over everything and opens the chat", async () => {
    const { manager, opened, analytics } = setup({
      config: { display: "embedded" }, store: { chat: { engaged: true } },
      proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }])] },
    });
    expect(await manager.evaluate()).toBe("embedded");
    expect(opened).toEqual([{ restore: true }]);
    expect(analytics.tracked).toEqual([]);
  });

  it("continuation re-opens an engaged chat and no configured trigger runs", async () => {
    const { manager, opened, analytics } = setup({
      store: { chat: { engaged: true, threadId: "t1" }, "cm.engagement": { at: NOW - 1000 } },
      proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }])] },
    });
    expect(await manager.evaluate()).toBe("continuation");
    expect(await manager.evaluate()).toBe("continuation");
    expect(opened).toEqual([{ restore: true }]);
    expect(shadow()).toBeUndefined();
    expect(analytics.tracked).toEqual([]);
  });

  it("after 24 hours without activity the engagement ends and configured triggers run again", async () => {
    const { manager, store, opened } = setup({
      store: { chat: { engaged: true, threadId: "t1" }, "cm.engagement": { at: NOW - ENGAGEMENT_IDLE_MS } },
      proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }])] },
    });
    expect(await manager.evaluate()).toBe("configured");
    expect(store.get("chat")).toEqual({ engaged: false, threadId: "t1" });
    expect(opened).toEqual([]);
    expect(shadow()?.querySelector("[data-parley-button='1']")?.textContent).toBe("Chat with us");
  });

  it("messaging opens the chat when the identity has a thread and is not engaged", async () => {
    const { manager, opened } = setup({
      config: { isLiveChat: false }, store: { chat: { engaged: false, threadId: "t1" } },
      proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }])] },
    });
    expect(await manager.evaluate()).toBe("messaging");
    expect(opened).toEqual([{ restore: true }]);
    expect(shadow()).toBeUndefined();
  });

  it("a live chat with a thread is not the messaging trigger", async () => {
    const { manager } = setup({ store: { chat: { engaged: false, threadId: "t1" } } });
    expect(await manager.evaluate()).toBe(null);
  });
});

describe("configured triggers", () => {
  it("3rd page view or 20 s on /pricing shows the invitation, rendered as text", async () => {
    const triggers = [trigger("1", { any: [third, pricing20] }, [{ kind: "showInvitation", invitation: "7" }])];
    history.replaceState(null, "", "/pricing");
    const early = setup({ proactive: { triggers }, pages: ["/", "/pricing"], pageStartedAt: NOW - 19_000 });
    expect(await early.manager.evaluate()).toBe(null);
    document.body.replaceChildren();
    const later = setup({ proactive: { triggers }, pages: ["/", "/pricing"], pageStartedAt: NOW - 20_000 });
    expect(await later.manager.evaluate()).toBe("configured");
    const invitation = shadow()!.querySelector("[data-parley-invitation='7']")!;
    expect(invitation.querySelector("h2")!.textContent).toBe("<b>Need help?</b>");
    expect(invitation.querySelector("p")!.textContent).toBe("<img src=x onerror=alert(1)>");
    expect(invitation.querySelector("img, b")).toBeNull();
    expect(later.analytics.tracked.map(([type, name]) => `${type}:${name}`)).toEqual([
      "trigger_activated:1", "trigger_executed:1", "invitation_shown:7",
    ]);
  });

  it("a trigger runs once per page view though evaluated every second", async () => {
    const { manager, analytics } = setup({ proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }])] } });
    await manager.evaluate();
    await manager.evaluate();
    expect(analytics.tracked.filter(([type]) => type === "trigger_activated")).toHaveLength(1);
    manager.pageChanged();
    await manager.evaluate();
    expect(analytics.tracked.filter(([type]) => type === "trigger_activated")).toHaveLength(2);
  });

  it("triggers are OR-ed in order, and stop here ends the evaluation", async () => {
    const triggers = [
      trigger("1", { all: [{ fact: "page.path", op: "equals", value: "/nope" }] }, [{ kind: "showButton", button: "2" }]),
      trigger("2", { all: [] }, [{ kind: "showButton", button: "1" }], { stopHere: true }),
      trigger("3", { all: [] }, [{ kind: "showInvitation", invitation: "7" }]),
    ];
    const { manager } = setup({ proactive: { triggers } });
    expect(await manager.evaluate()).toBe("configured");
    expect(shadow()!.querySelector("[data-parley-button='1']")).not.toBeNull();
    expect(shadow()!.querySelector("[data-parley-button='2'], [data-parley-invitation]")).toBeNull();
    await manager.evaluate();
    expect(shadow()!.querySelector("[data-parley-invitation]")).toBeNull();
  });

  it("without stop here later triggers also run", async () => {
    const triggers = [
      trigger("2", { all: [] }, [{ kind: "showButton", button: "1" }]),
      trigger("3", { all: [] }, [{ kind: "showInvitation", invitation: "7" }]),
    ];
    const { manager } = setup({ proactive: { triggers } });
    await manager.evaluate();
    expect(shadow()!.querySelectorAll("[data-parley-button], [data-parley-invitation]")).toHaveLength(2);
  });

  it("once per visit executes in one page view only", async () => {
    const triggers = [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }], { oncePerVisit: true })];
    const first = setup({ proactive: { triggers } });
    await first.manager.evaluate();
    first.manager.pageChanged();
    expect(await first.manager.evaluate()).toBe(null);
    expect(first.analytics.tracked.filter(([type]) => type === "trigger_executed")).toHaveLength(1);
  });

  it("only if agents are available: nobody available shows offline variants only", async () => {
    const triggers = [trigger("1", { all: [] }, [
      { kind: "showInvitation", invitation: "7" }, { kind: "showButton", button: "1" }, { kind: "showButton", button: "2" },
      { kind: "openChat" },
    ], { onlyIfAgentsAvailable: true })];
    const { manager, availability, opened, analytics } = setup({ proactive: { triggers }, probability: 0 });
    expect(await manager.evaluate()).toBe("configured");
    expect(availability).toHaveBeenCalledTimes(1);
    expect(shadow()!.querySelector("[data-parley-invitation]")).toBeNull();
    const button = shadow()!.querySelector<HTMLElement>("[data-parley-button]")!;
    expect([button.dataset.parleyButton, button.dataset.mode, button.textContent]).toEqual(["1", "offline", "Leave a message"]);
    expect(opened).toEqual([]);
    expect(analytics.tracked.map(([type]) => type)).toEqual(["trigger_activated", "button_shown"]);
  });

  it("only if agents are available: the drawn probability decides", async () => {
    const triggers = [trigger("1", { all: [] }, [{ kind: "showButton", button: "2" }], { onlyIfAgentsAvailable: true })];
    const above = setup({ proactive: { triggers }, probability: 0.6 }); // random() is 0.5
    await above.manager.evaluate();
    expect(shadow()!.querySelector<HTMLElement>("[data-parley-button='2']")!.dataset.mode).toBe("online");
    document.body.replaceChildren();
    const below = setup({ proactive: { triggers }, probability: 0.4 });
    await below.manager.evaluate();
    expect(shadow()).toBeUndefined(); // button 2 has no offline variant
  });

  it("messaging mode has no offline variants", async () => {
    const triggers = [trigger("1", { all: [] }, [{ kind: "showButton", button: "1" }], { onlyIfAgentsAvailable: true })];
    const { manager } = setup({ config: { isLiveChat: false }, proactive: { triggers }, probability: 0 });
    await manager.evaluate();
    expect(shadow()).toBeUndefined();
  });

  it("accepting an invitation opens the chat; a dismissal is remembered for the visit", async () => {
    const triggers = [trigger("1", { all: [] }, [{ kind: "showInvitation", invitation: "7" }, { kind: "welcomeMessage", message: "Hi!" }])];
    const { manager, opened, store, analytics } = setup({ proactive: { triggers } });
    await manager.evaluate();
    expect(opened).toEqual([{ welcome: "Hi!" }]);
    shadow()!.querySelector<HTMLButtonElement>(".dismiss")!.click();
    expect(shadow()!.querySelector("[data-parley-invitation]")).toBeNull();
    expect(store.get("cm.dismissed")).toEqual({ visit: "visit-00001", ids: ["invitation:7"] });
    manager.pageChanged();
    await manager.evaluate();
    expect(shadow()!.querySelector("[data-parley-invitation]")).toBeNull();
    expect(analytics.tracked.map(([type]) => type)).toContain("invitation_dismissed");

    document.body.replaceChildren();
    const other = setup({ proactive: { triggers: [trigger("1", { all: [] }, [{ kind: "showInvitation", invitation: "7" }])] } });
    await other.manager.evaluate();
    shadow()!.querySelector<HTMLButtonElement>(".accept")!.click();
    await Promise.resolve();
    expect(other.opened).toEqual([{}]);
    expect(shadow()!.querySelector("[data-parley-invitation]")).toBeNull();
    expect(other.analytics.tracked.map(([type]) => type)).toEqual([
      "trigger_activated", "trigger_executed", "invitation_shown", "invitation_accepted", "chat_shown",
    ]);
  });

  it("the agent context carries the page trail and the custom variables agents may see", () => {
    const { manager } = setup({
      pages: ["/", "/pricing"],
      proactive: { variables: [
        { name: "plan", label: "Plan", type: "string", source: "query_parameter", key: "plan", showToAgents: true },
        { name: "secret", label: "S", type: "string", source: "query_parameter", key: "plan", showToAgents: false },
      ] },
    });
    history.replaceState(null, "", "/pricing?plan=pro");
    const context = manager.agentContext();
    expect(context.pageViews.map((view) => [view.pageUrl, view.isOpeningVisit])).toEqual([
      ["https://shop.example/", true], ["https://shop.example/pricing", false],
    ]);
    expect(context.customVariables).toEqual([{ identifier: "plan", value: "pro" }]);
  });
});
