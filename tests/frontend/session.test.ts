import { beforeEach, describe, expect, it } from "vitest";
import { VISIT_IDLE_MS, createStore, identify, setExtra } from "../../static/src/session/store";

describe("session store", () => {
  beforeEach(() => {
    localStorage.clear();
    sessionStorage.clear();
  });

  it("namespaces every key by brand so tenants never share data", () => {
    const acme = createStore({ brandId: 1001 });
    const globex = createStore({ brandId: 2002 });
    acme.set("chat", { open: true });

    expect(JSON.parse(localStorage.getItem("parley.1001.chat")!)).toEqual({ open: true });
    expect(globex.get("chat")).toBeUndefined();
    expect(acme.visitorId).not.toBe(globex.visitorId);
  });

  it("keeps the visitor id across page loads", () => {
    const first = createStore({ brandId: 1001 });
    const second = createStore({ brandId: 1001 });

    expect(second.visitorId).toBe(first.visitorId);
    expect(first.visitorId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("continues a visit while active and starts a new one after 30 idle minutes", () => {
    let now = 1_000_000;
    const first = createStore({ brandId: 1001, now: () => now });
    now += VISIT_IDLE_MS - 1;
    const active = createStore({ brandId: 1001, now: () => now });
    now += VISIT_IDLE_MS;
    const later = createStore({ brandId: 1001, now: () => now });

    expect(active.visitId).toBe(first.visitId);
    expect(later.visitId).not.toBe(first.visitId);
    expect(later.visitorId).toBe(first.visitorId);
  });

  it("uses sessionStorage for tab data", () => {
    const store = createStore({ brandId: 1001 });
    store.setSession("pages", 3);

    expect(JSON.parse(sessionStorage.getItem("parley.1001.pages")!)).toBe(3);
    expect(store.getSession("pages")).toBe(3);
    expect(store.get("pages")).toBeUndefined();
  });

  it("falls back to memory when storage is unavailable", () => {
    const store = createStore({ brandId: 1001, local: null, session: null });
    store.set("chat", { engaged: true });

    expect(store.get("chat")).toEqual({ engaged: true });
    expect(localStorage.getItem("parley.1001.chat")).toBeNull();
  });

  it("survives storage that throws on write", () => {
    const broken = {
      getItem: () => null,
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
      removeItem: () => undefined,
    } as unknown as Storage;
    const store = createStore({ brandId: 1001, local: broken });
    store.set("chat", 1);

    expect(store.get("chat")).toBeUndefined();
  });

  it("tells watchers about another tab's change of a key", () => {
    const store = createStore({ brandId: 1001 });
    const seen: unknown[] = [];
    const stop = store.watch("chat", (value) => seen.push(value));

    window.dispatchEvent(new StorageEvent("storage", { key: "parley.1001.chat", newValue: '{"open":false}' }));
    window.dispatchEvent(new StorageEvent("storage", { key: "parley.2002.chat", newValue: '{"open":true}' }));
    stop();
    window.dispatchEvent(new StorageEvent("storage", { key: "parley.1001.chat", newValue: '{"open":true}' }));

    expect(seen).toEqual([{ open: false }]);
  });

  it("never writes the identity to storage", () => {
    const store = createStore({ brandId: 1001 });
    identify(store.identity(), { name: "Jane Q Public", customerId: "crm-42", token: "a.b.c" });

    expect(store.identity()).toEqual({ name: "Jane Q Public", customerId: "crm-42", token: "a.b.c", extra: {} });
    expect(Object.keys(localStorage).filter((key) => localStorage.getItem(key)!.includes("crm-42"))).toEqual([]);
  });
});

describe("identify and set", () => {
  it("refuses a company-managed id without its signed token, changing nothing", () => {
    const identity = { extra: {} };

    expect(identify(identity, { name: "Eve", customerId: "crm-1" })).toBe(false);
    expect(identity).toEqual({ extra: {} });
  });

  it("takes name, email, avatar and extra values", () => {
    const identity = { extra: {} };

    expect(identify(identity, { name: "Jane", email: "jane@example.com", avatar: "https://x/a.png", extra: { tier: "gold", n: 3 } })).toBe(true);
    expect(identity).toEqual({ name: "Jane", email: "jane@example.com", avatar: "https://x/a.png", extra: { tier: "gold", n: "3" } });
  });

  it("sets and clears extra values with safe names only", () => {
    const identity = { extra: {} as Record<string, string> };

    expect(setExtra(identity, "cart_total", 42.5)).toBe(true);
    expect(setExtra(identity, "bad name!", "x")).toBe(false);
    expect(identity.extra).toEqual({ cart_total: "42.5" });
    expect(setExtra(identity, "cart_total", null)).toBe(true);
    expect(identity.extra).toEqual({});
  });
});
