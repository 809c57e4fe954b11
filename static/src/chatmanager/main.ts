/** Chat manager module: triggers, chat buttons and invitations (seed 003, docs/proactive.md).
 *
 * Loaded by the loader with session storage and web analytics. When the channel
 * has configured triggers it announces "chatmanager:ready" (the loader's default
 * button steps aside) and from then on decides what is shown; it loads the chat
 * client (widget) only when something opens it.
 */
import type { AnalyticsApi } from "../analytics/tracker";
import type { ParleyContext, SessionStore, WidgetApi } from "../common/context";
import { ChatManager, EVALUATE_EVERY_MS, type ProactiveConfig } from "./manager";

const AVAILABILITY_TTL_MS = 5000;

/** The channel's triggers and chat items: inlined, or from the cacheable configuration endpoint. */
async function configuration(context: ParleyContext): Promise<ProactiveConfig | null> {
  const config = context.config;
  if (config.proactive) return config.proactive as ProactiveConfig;
  const url = `${config.base}/guide/1.0/brand/${config.brandId}/channel/${encodeURIComponent(config.channelId)}/proactive`;
  try {
    const response = await fetch(url, { credentials: "omit" });
    return response.ok ? ((await response.json()) as ProactiveConfig) : null;
  } catch {
    return null;
  }
}

export default async function init(context: ParleyContext): Promise<ChatManager | null> {
  const config = context.config;
  const proactive = await configuration(context);
  if (!proactive || !Array.isArray(proactive.triggers)) return null;
  config.proactive = proactive;
  const triggersPresent = proactive.triggers.length > 0;
  // Without configured triggers the loader's default button stays (at least one trigger is the norm).
  // When the loader deferred, nothing is on screen: take over at once. Otherwise its button stays
  // until our first evaluation has drawn our own items, so no button disappears in between.
  const deferred = Boolean(config.deferButton);
  if (triggersPresent && deferred) context.emit("chatmanager:ready");
  const store = (await context.load("session")) as SessionStore;
  const analytics = (await context.load("analytics").catch(() => null)) as AnalyticsApi | null;

  let availability: { at: number; value: Promise<number> } | undefined;
  const manager = new ChatManager({
    config,
    proactive,
    store,
    analytics,
    win: window,
    emit: (event, detail) => context.emit(event, detail),
    openWidget: (options) => context.load("widget").then((widget) => (widget as WidgetApi).open(options)),
    availability() {
      if (!availability || Date.now() - availability.at > AVAILABILITY_TTL_MS) {
        availability = {
          at: Date.now(),
          value: fetch(`${config.base}${proactive.availabilityUrl}`, { credentials: "omit" })
            .then((response) => (response.ok ? response.json() : { probability: 0 }))
            .then((body: { probability?: unknown }) => (typeof body.probability === "number" ? body.probability : 0)),
        };
      }
      return availability.value;
    },
  });

  const run = () => {
    manager.evaluate().catch(() => undefined);
  };
  const shareContext = () => {
    if (manager.engaged()) context.emit("chatmanager:context", manager.agentContext());
  };
  context.on("analytics:pageview", () => {
    if (manager.engaged()) manager.engagementTouch();
    manager.pageChanged();
    run();
    shareContext();
  });
  context.on("chat:engaged", (detail) => {
    const thread = (detail as { threadId?: unknown } | undefined)?.threadId;
    analytics?.track("chat_engaged", typeof thread === "string" ? thread.slice(0, 64) : "");
    manager.engagementTouch();
    manager.items.clear();
    shareContext();
  });
  context.on("widget:ready", () => {
    // The chat client has its own launcher from now on: our items step aside on this page.
    manager.suspend();
    shareContext();
  });
  // The 24-hour rule counts the visitor's activity: their messages, opening the chat, browsing.
  context.on("chat:message", (detail) => {
    if ((detail as { direction?: unknown } | undefined)?.direction === "inbound") manager.engagementTouch();
  });
  context.on("widget:open", () => manager.engaged() && manager.engagementTouch());
  context.on("identity:changed", run);
  if (manager.engaged()) manager.engagementTouch(); // this page view is activity too
  const first = manager.evaluate().catch(() => undefined);
  if (triggersPresent && !deferred) await first.then(() => context.emit("chatmanager:ready"));
  shareContext();
  if (triggersPresent) setInterval(run, EVALUATE_EVERY_MS);
  return manager;
}
