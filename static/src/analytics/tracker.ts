/** Web analytics: page views (also single-page app history changes) and events,
 * continuously during the page. See docs/proactive.md, "Web analytics". */
import type { ParleyContext, SessionStore } from "../common/context";
import { type Journey, type PageEntry, journeyLoad, journeyPageView, journeyTouch } from "./journey";
import { Sender } from "./sender";

export interface AnalyticsApi {
  /** Records an event of the visit (chat shown, trigger activated, button clicked, …). */
  track(type: string, name?: string, data?: Record<string, unknown>): void;
  /** The journey so far; its last page is the current one. */
  journey(): Journey;
  /** When the current page view started (ms). */
  pageStartedAt(): number;
  /** Sending stopped for this window because the backend could not be reached. */
  disabled(): boolean;
}

const DISABLED_KEY = "analytics.disabled";

export interface TrackerOptions {
  now?: () => number;
  fetch?: typeof fetch;
  beacon?: (url: string, body: Blob) => boolean;
  win?: Window;
}

export function createTracker(context: ParleyContext, store: SessionStore, options: TrackerOptions = {}): AnalyticsApi {
  const now = options.now || Date.now;
  const win = options.win || window;
  const config = context.config;
  const idleMs = (Number(config.visitIdleMinutes) || 30) * 60_000;
  const path = `/analytics/1.0/brand/${config.brandId}/channel/${encodeURIComponent(config.channelId)}`;
  const journey = journeyLoad(store, store.visitorId, store.visitId, idleMs, now());
  let current: PageEntry;
  let startedAt = now();
  let referrer = win.document.referrer;

  const sender = new Sender({
    endpoint: `${config.base}${path}`,
    visitor: () => journey.visitor,
    visit: () => journey.visit,
    isDisabled: () => store.getSession(DISABLED_KEY) === true,
    disable: () => store.setSession(DISABLED_KEY, true),
    now,
    fetch: options.fetch,
    beacon: options.beacon,
  });

  const view = (entry: PageEntry, timeOnPage: number) => ({
    id: entry.id,
    at: entry.at,
    url: entry.url.slice(0, 2048),
    title: entry.title.slice(0, 300),
    referrer: /^https?:\/\//.test(referrer) ? referrer.slice(0, 2048) : "",
    timeOnPage: Math.max(0, Math.min(timeOnPage, 86_400_000)),
  });

  function pageView(): void {
    current = journeyPageView(store, journey, { url: win.location.href, title: win.document.title }, now());
    startedAt = current.at;
    sender.add({ type: "page_view", ...view(current, 0) });
    context.emit("analytics:pageview", current);
  }

  /** A single-page app changed its URL: the previous page view ends, a new one starts. */
  function navigated(): void {
    if (win.location.href === current.url) return;
    const previous = current;
    sender.pageViewUpdate(previous.id, view(previous, now() - startedAt));
    referrer = previous.url;
    pageView();
  }

  for (const method of ["pushState", "replaceState"] as const) {
    const original = win.history[method];
    win.history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      try {
        navigated();
      } catch {
        // Analytics must never break the host page's navigation.
      }
      return result;
    };
  }
  win.addEventListener("popstate", navigated);
  win.addEventListener("hashchange", navigated);
  const leave = () => {
    sender.add({ type: "page_view", ...view(current, now() - startedAt) });
    sender.beacon();
  };
  win.addEventListener("pagehide", leave);
  win.document.addEventListener("visibilitychange", () => {
    if (win.document.visibilityState === "hidden") leave();
  });
  pageView();

  const api: AnalyticsApi = {
    track(type, name = "", data) {
      journeyTouch(store, journey, now());
      const event: Record<string, unknown> = { type, at: now(), name: String(name).slice(0, 64), pageView: current.id };
      if (data) event.data = data;
      sender.add(event as { type: string; at: number });
    },
    journey: () => journey,
    pageStartedAt: () => startedAt,
    disabled: () => store.getSession(DISABLED_KEY) === true,
  };
  // Page API: parley('track', 'offer_response' | 'custom', name, data) records the page's own events.
  context.command("track", (type, name, data) => {
    if (type !== "offer_response" && type !== "custom") return;
    if (typeof name !== "string" || !/^[A-Za-z0-9_.:-]{0,64}$/.test(name)) return;
    const values = data && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
    api.track(type, name, values);
  });
  return api;
}
