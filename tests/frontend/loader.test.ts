import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

type Config = Record<string, unknown>;

async function runLoader(config: Config = {}) {
  (globalThis as any).PARLEY_CONFIG = {
    brandId: 1001,
    channelId: "chat_msg",
    isLiveChat: false,
    multiThread: true,
    display: "floating",
    modules: {},
    theme: { buttonColor: "#123456" },
    translations: { en: { weAreOnline: "We're online" } },
    ...config,
  };
  vi.resetModules();
  await import("../../static/src/loader/main");
  await new Promise((resolve) => setTimeout(resolve, 0));
  return (globalThis as any).PARLEY_CONFIG;
}

function button(): HTMLButtonElement | null {
  const host = document.querySelector("parley-button");
  return host ? (host.shadowRoot!.querySelector("button") as HTMLButtonElement) : null;
}

beforeEach(() => {
  document.body.replaceChildren();
  delete (window as any).parley;
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});

afterEach(() => vi.restoreAllMocks());

describe("loader", () => {
  it("derives the gateway from its own origin", async () => {
    const config = await runLoader();

    expect(config.base).toBe(location.origin);
    expect(config.gateway).toBe(location.origin.replace(/^http/, "ws") + "/ws/visitor");
  });

  it("shows the default button with the channel's label when no chat manager exists", async () => {
    await runLoader();

    expect(document.querySelectorAll("parley-button")).toHaveLength(1);
    expect(button()!.getAttribute("aria-label")).toBe("We're online");
    expect(button()!.querySelector("svg")!.getAttribute("aria-hidden")).toBe("true");
  });

  it("shows no button in embedded mode", async () => {
    await runLoader({ display: "embedded" });

    expect(button()).toBeNull();
  });

  it("waits for the chat manager when the channel defers the button, and falls back if it fails", async () => {
    await runLoader({ deferButton: true, modules: { chatmanager: "chatmanager.missing.js" } });

    await vi.waitFor(() => expect(button()).not.toBeNull(), { timeout: 3000 });
  });

  it("replays page API calls queued before it loaded", async () => {
    const seen: unknown[] = [];
    const stub = Object.assign(() => undefined, { q: [["on", "button:shown", (detail: unknown) => seen.push(detail)]] });
    (window as any).parley = stub;

    await runLoader();

    expect((window as any).parley).not.toBe(stub);
    expect(seen).toEqual([{ source: "loader" }]);
  });

  it("page listeners registered later hear later events only", async () => {
    await runLoader({ display: "embedded" });
    const seen: unknown[] = [];
    const stop = (window as any).parley("on", "button:shown", (detail: unknown) => seen.push(detail));

    expect(typeof stop).toBe("function");
    expect(seen).toEqual([]);
  });
});
