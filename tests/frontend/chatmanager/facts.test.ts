import { beforeEach, describe, expect, it } from "vitest";
import { clock, factsBuild, variableCoerce, variableRead, type VariableConfig } from "../../../static/src/chatmanager/facts";

const variable = (source: VariableConfig["source"], key: string, extra: Partial<VariableConfig> = {}): VariableConfig => ({
  name: "v", label: "V", type: "string", source, key, ...extra,
});

beforeEach(() => {
  document.body.replaceChildren();
  history.replaceState(null, "", "/cart?plan=pro&total=129.90");
});

describe("custom variables", () => {
  it("reads every source", () => {
    document.body.innerHTML = '<p id="total" data-price="42.5"> 129,90 € </p>';
    document.cookie = "segment=vip%20gold";
    (window as unknown as { dataLayer: unknown[] }).dataLayer = [{ cart: { total: 10 } }, { event: "x" }, { cart: { total: 12 } }];
    const identity = { extra: { tier: "gold" } };
    expect(variableRead(variable("page_api", "tier"), window, identity)).toBe("gold");
    expect(variableRead(variable("css_text", "#total"), window, identity)).toBe("129,90 €");
    expect(variableRead(variable("css_attribute", "#total", { attribute: "data-price" }), window, identity)).toBe("42.5");
    expect(variableRead(variable("query_parameter", "plan"), window, identity)).toBe("pro");
    expect(variableRead(variable("cookie", "segment"), window, identity)).toBe("vip gold");
    expect(variableRead(variable("data_layer", "cart.total"), window, identity)).toBe(12);
    expect(variableRead(variable("css_text", "#missing"), window, identity)).toBeUndefined();
    expect(variableRead(variable("css_text", "###"), window, identity)).toBeUndefined();
    expect(variableRead(variable("data_layer", "nope.deeper"), window, identity)).toBeUndefined();
  });

  it("types values or leaves them unset", () => {
    expect(variableCoerce("number", "129,90 €")).toBe(129.9);
    expect(variableCoerce("number", "abc")).toBeNull();
    expect(variableCoerce("number", 3)).toBe(3);
    expect(variableCoerce("boolean", "Yes")).toBe(true);
    expect(variableCoerce("boolean", "0")).toBe(false);
    expect(variableCoerce("boolean", "maybe")).toBeNull();
    expect(variableCoerce("string", 12)).toBe("12");
    expect(variableCoerce("string", undefined)).toBeNull();
  });
});

describe("facts", () => {
  it("gives the day and minute in the tenant's time zone", () => {
    const sundayNightUtc = Date.UTC(2026, 10, 22, 23, 30); // Monday 00:30 in Amsterdam
    expect(clock(sundayNightUtc, "Europe/Amsterdam")).toEqual({ dayOfWeek: 1, minuteOfDay: 30 });
    expect(clock(sundayNightUtc, "America/New_York")).toEqual({ dayOfWeek: 7, minuteOfDay: 18 * 60 + 30 });
    expect(clock(sundayNightUtc, "Not/AZone")).toEqual({ dayOfWeek: 7, minuteOfDay: 23 * 60 + 30 });
  });

  it("builds page, visit, identity and variable facts from the journey", () => {
    const now = Date.UTC(2026, 10, 18, 10, 0, 0);
    const page = (path: string, at: number) => ({ id: `id-${path}-xxxxxx`, url: `https://shop.example${path}`, path, title: path, at });
    document.title = "Cart";
    const facts = factsBuild({
      journey: { visitor: "v", visit: "w", visitNumber: 2, visitStartedAt: now - 95_500, lastActiveAt: now,
                 pages: [page("/cart", now - 90_000), page("/pricing", now - 60_000), page("/cart", now - 20_000)] },
      pageStartedAt: now - 20_000,
      now,
      timeZone: "Europe/Amsterdam",
      identity: { extra: {}, email: "v@example.com" },
      variables: { plan: "pro", total: null },
      win: window,
    });
    expect(facts).toEqual({
      "page.url": "http://localhost:3000/cart?plan=pro&total=129.90".replace("http://localhost:3000", location.origin),
      "page.path": "/cart",
      "page.title": "Cart",
      "page.referrer": document.referrer,
      "page.viewCount": 2,
      "page.timeOnPage": 20,
      "visit.pageViews": 3,
      "visit.count": 2,
      "visit.duration": 95.5,
      "visit.pagesSeen": ["/cart", "/pricing"],
      "time.dayOfWeek": 3,
      "time.minuteOfDay": 660,
      "identity.present": true,
      "identity.signed": false,
      "var.plan": "pro",
      "var.total": null,
    });
  });
});
