import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import init from "../../../static/src/chatmanager/main";
import type { ProactiveConfig } from "../../../static/src/chatmanager/manager";
import { fakeContext, fakeStore } from "./fakes";

function config(triggers: ProactiveConfig["triggers"]): ProactiveConfig {
  return {
    version: "v", timeZone: "UTC", visitIdleMinutes: 30, variables: [], invitations: {},
    availabilityUrl: "/guide/1.0/brand/1001/channel/chat_live/availability", analyticsUrl: "",
    buttons: { "1": { placement: "floating", position: "bottom-right", background: "#112233", color: "#ffffff",
                      online: { text: "Chat with us" }, offline: null } },
    triggers,
  };
}

function setup(answer: ProactiveConfig | null) {
  const context = fakeContext();
  const store = fakeStore();
  const opened: unknown[] = [];
  context.load = (async (name: string) => {
    if (name === "session") return store;
    if (name === "analytics") throw new Error("unavailable");
    return { open: (options: unknown) => opened.push(options), minimize() {}, isOpen: () => true };
  }) as typeof context.load;
  const fetcher = vi.fn(async () =>
    answer ? new Response(JSON.stringify(answer), { status: 200 }) : new Response("{}", { status: 404 }),
  );
  vi.stubGlobal("fetch", fetcher);
  return { context, store, opened, fetcher };
}

beforeEach(() => {
  vi.useFakeTimers();
  document.body.replaceChildren();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("chat manager module", () => {
  it("fetches the channel's configuration, takes over the button and shows what triggers say", async () => {
    const { context, fetcher } = setup(config([
      { id: "1", name: "always", rule: { all: [] }, onlyIfAgentsAvailable: false, oncePerVisit: false, stopHere: false,
        actions: [{ kind: "showButton", button: "1" }] },
    ]));
    context.config.deferButton = true;
    const manager = await init(context);
    expect(fetcher).toHaveBeenCalledWith("https://parley.example/guide/1.0/brand/1001/channel/chat_live/proactive", {
      credentials: "omit",
    });
    expect(manager).not.toBeNull();
    expect(context.events[0]).toEqual(["chatmanager:ready", undefined]);
    await vi.advanceTimersByTimeAsync(10);
    const button = document.querySelector("parley-items")!.shadowRoot!.querySelector("button")!;
    expect(button.textContent).toBe("Chat with us");
  });

  it("when the loader already shows its button, takes over only once its own button is drawn", async () => {
    const { context } = setup(config([
      { id: "1", name: "always", rule: { all: [] }, onlyIfAgentsAvailable: false, oncePerVisit: false, stopHere: false,
        actions: [{ kind: "showButton", button: "1" }] },
    ]));
    let drawnAtReady: string | null | undefined;
    const emit = context.emit.bind(context);
    context.emit = (event: string, detail?: unknown) => {
      if (event === "chatmanager:ready") {
        drawnAtReady = document.querySelector("parley-items")?.shadowRoot?.querySelector("button")?.textContent;
      }
      emit(event, detail);
    };
    await init(context);
    expect(context.events.map(([name]) => name)).toContain("chatmanager:ready");
    expect(drawnAtReady).toBe("Chat with us");
  });

  it("without configured triggers leaves the loader's button alone", async () => {
    const { context } = setup(config([]));
    expect(await init(context)).not.toBeNull();
    expect(context.events.map(([name]) => name)).not.toContain("chatmanager:ready");
  });

  it("when the configuration cannot be fetched it does nothing, quietly", async () => {
    const errors = vi.spyOn(console, "error");
    const { context } = setup(null);
    expect(await init(context)).toBeNull();
    expect(context.events).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
  });

  it("an engaged visitor's page shares the agent context and no item", async () => {
    const { context, store, opened } = setup(config([
      { id: "1", name: "always", rule: { all: [] }, onlyIfAgentsAvailable: false, oncePerVisit: false, stopHere: false,
        actions: [{ kind: "showButton", button: "1" }] },
    ]));
    store.set("chat", { engaged: true, threadId: "t-1" });
    await init(context);
    await vi.advanceTimersByTimeAsync(10);
    expect(opened).toEqual([{ restore: true }]);
    expect(document.querySelector("parley-items")).toBeNull();
    expect(context.events.map(([name]) => name)).toContain("chatmanager:context");
    expect(store.get<{ at: number }>("cm.engagement")).toBeDefined();
  });
});
