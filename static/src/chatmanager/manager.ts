/** The chat manager's decision: which trigger holds, and what it does (seed 003).
 *
 * On every page view and continuously during it (every second and on page
 * events) the triggers are evaluated in this order: the embedded trigger, then
 * continuation, then messaging, then the configured triggers. The first that
 * holds wins and the rest are not evaluated; while the visitor is engaged no
 * other trigger runs. See docs/proactive.md.
 */
import { ENGAGEMENT_IDLE_MS, engagementExpired } from "../common/engagement";
import type { AnalyticsApi } from "../analytics/tracker";
import type { ChannelConfig, SessionStore, VisitorIdentity } from "../common/context";
import { factsBuild, type VariableConfig, variablesRead } from "./facts";
import { type ButtonConfig, type InvitationConfig, Items, type Mode } from "./items";
import { evaluate } from "./rules";

export type Action =
  | { kind: "showButton"; button: string }
  | { kind: "showInvitation"; invitation: string }
  | { kind: "openChat" }
  | { kind: "welcomeMessage"; message: string };

export interface TriggerConfig {
  id: string;
  name: string;
  rule: unknown;
  onlyIfAgentsAvailable: boolean;
  oncePerVisit: boolean;
  stopHere: boolean;
  actions: Action[];
}

export interface ProactiveConfig {
  version: string;
  timeZone: string;
  visitIdleMinutes: number;
  triggers: TriggerConfig[];
  buttons: Record<string, ButtonConfig>;
  invitations: Record<string, InvitationConfig>;
  variables: VariableConfig[];
  availabilityUrl: string;
  analyticsUrl: string;
}

/** The widget's continuity record in session storage ("chat"). */
export interface ChatState {
  engaged?: boolean;
  open?: boolean;
  threadId?: string;
}

/** Continuation lasts while the engaged visitor was active within this time (seed 003). */
export { ENGAGEMENT_IDLE_MS };
export const EVALUATE_EVERY_MS = 1000;

export type Outcome = "embedded" | "continuation" | "messaging" | "configured" | null;

export interface ManagerDeps {
  config: ChannelConfig;
  proactive: ProactiveConfig;
  store: SessionStore;
  analytics: AnalyticsApi | null;
  openWidget(options?: { restore?: boolean; message?: string; welcome?: string }): Promise<unknown>;
  /** The probability to execute a trigger marked "only if agents are available". */
  availability(): Promise<number>;
  emit(event: string, detail?: unknown): void;
  win: Window;
  now?: () => number;
  random?: () => number;
}

interface VisitList {
  visit: string;
  ids: string[];
}

export class ChatManager {
  readonly items: Items;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Triggers already decided on this page view: each runs once per page. */
  private decided = new Set<string>();
  private evaluating = false;
  private pageKey = "";

  constructor(private deps: ManagerDeps) {
    this.now = deps.now || Date.now;
    this.random = deps.random || Math.random;
    this.items = new Items(deps.win.document, {
      accept: (kind, id, mode) => this.accept(kind, id, mode),
      dismiss: (kind, id) => this.dismiss(kind, id),
    });
  }

  private get visit(): string {
    return this.deps.analytics ? this.deps.analytics.journey().visit : this.deps.store.visitId;
  }

  private track(type: string, name = "", data?: Record<string, unknown>): void {
    this.deps.analytics?.track(type, name, data);
    this.deps.emit(`chatmanager:${type}`, { name, ...data });
  }

  private visitList(key: string): VisitList {
    const saved = this.deps.store.get<VisitList>(key);
    return saved && saved.visit === this.visit && Array.isArray(saved.ids) ? saved : { visit: this.visit, ids: [] };
  }

  private remember(key: string, id: string): void {
    const list = this.visitList(key);
    if (!list.ids.includes(id)) list.ids.push(id);
    this.deps.store.set(key, list);
  }

  // --- engagement -------------------------------------------------------------------

  /** Records activity of an engaged visitor (a message, opening the chat). */
  engagementTouch(): void {
    this.deps.store.set("cm.engagement", { at: this.now() });
  }

  /** Whether the chat engaged on an earlier page continues (seed 003, "Continuation"). */
  engaged(): boolean {
    const state = this.deps.store.get<ChatState>("chat");
    if (!state || !state.engaged) return false;
    const last = this.deps.store.get<{ at: number }>("cm.engagement");
    if (!last) {
      this.engagementTouch();
      return true;
    }
    if (!engagementExpired(this.deps.store, this.now())) return true;
    // The visit idle duration passed: the engagement is over, on this page and the next.
    this.deps.store.set("chat", { ...state, engaged: false });
    return false;
  }

  /** What agents see beside the conversation: the page trail and the custom variables
   * (the widget sends them as SendPageViews and StoreVisitor; docs/proactive.md). */
  agentContext(): { pageViews: Record<string, unknown>[]; customVariables: { identifier: string; value: string }[] } {
    const journey = this.deps.analytics?.journey();
    const pages = journey ? journey.pages : [];
    const pageViews = pages.map((page, index) => ({
      id: page.id,
      pageUrl: page.url,
      pageTitle: page.title,
      visitedAt: new Date(page.at).toISOString(),
      hasHappenedDuringSession: true,
      isOpeningVisit: index === 0,
    }));
    const identity = (this.deps.store.identity && this.deps.store.identity()) as VisitorIdentity | undefined;
    const shown = (this.deps.proactive.variables || []).filter((variable) => variable.showToAgents !== false);
    const values = variablesRead(shown, this.deps.win, identity);
    const customVariables = shown
      .filter((variable) => values[variable.name] !== null)
      .map((variable) => ({ identifier: variable.name, value: String(values[variable.name]) }));
    return { pageViews, customVariables };
  }

  // --- the trigger order ------------------------------------------------------------

  private suspended = false;

  /** The chat client is on the page: no more items on this page. */
  suspend(): void {
    this.suspended = true;
    this.items.clear();
  }

  /** A new page view (a load or a history change): triggers may run again. */
  pageChanged(): void {
    this.decided.clear();
    this.items.clear();
  }

  async evaluate(): Promise<Outcome> {
    if (this.evaluating) return null;
    this.evaluating = true;
    try {
      return await this.evaluateInOrder();
    } finally {
      this.evaluating = false;
    }
  }

  private async evaluateInOrder(): Promise<Outcome> {
    const { config } = this.deps;
    if (config.display === "embedded") {
      await this.once("embedded", () => this.deps.openWidget({ restore: true }));
      return "embedded";
    }
    if (this.engaged()) {
      this.items.clear();
      await this.once("continuation", () => this.deps.openWidget({ restore: true }));
      return "continuation";
    }
    const state = this.deps.store.get<ChatState>("chat");
    if (!config.isLiveChat && state && state.threadId) {
      await this.once("messaging", () => this.deps.openWidget({ restore: true }));
      return "messaging";
    }
    return (await this.configured()) ? "configured" : null;
  }

  private async once(key: string, run: () => Promise<unknown>): Promise<void> {
    if (this.decided.has(key)) return;
    this.decided.add(key);
    await run().catch(() => undefined);
  }

  private facts() {
    const analytics = this.deps.analytics;
    const win = this.deps.win;
    const now = this.now();
    const journey = analytics
      ? analytics.journey()
      : { visitor: "", visit: "", visitNumber: 1, visitStartedAt: now, lastActiveAt: now, pages: [] };
    const identity = (this.deps.store.identity && this.deps.store.identity()) as VisitorIdentity | undefined;
    return factsBuild({
      journey,
      pageStartedAt: analytics ? analytics.pageStartedAt() : now,
      now,
      timeZone: this.deps.proactive.timeZone || "UTC",
      identity,
      variables: variablesRead(this.deps.proactive.variables || [], win, identity),
      win,
    });
  }

  /** The configured triggers, in order; returns whether one held. */
  private async configured(): Promise<boolean> {
    const facts = this.facts();
    let held = false;
    for (const trigger of this.deps.proactive.triggers || []) {
      if (this.decided.has(trigger.id)) {
        if (trigger.stopHere) return true;
        continue;
      }
      if (trigger.oncePerVisit && this.visitList("cm.once").ids.includes(trigger.id)) continue;
      if (!evaluate(trigger.rule, facts)) continue;
      held = true;
      this.decided.add(trigger.id);
      this.track("trigger_activated", trigger.id);
      await this.execute(trigger);
      if (trigger.stopHere) break;
    }
    return held;
  }

  private async execute(trigger: TriggerConfig): Promise<void> {
    let execute = true;
    if (trigger.onlyIfAgentsAvailable) {
      const probability = await this.deps.availability().catch(() => 0);
      execute = this.random() < Math.min(1, Math.max(0, probability));
    }
    const mode: Mode = execute ? "online" : "offline";
    if (execute) {
      if (trigger.oncePerVisit) this.remember("cm.once", trigger.id);
      this.track("trigger_executed", trigger.id);
    } else if (!this.deps.config.isLiveChat) {
      return; // Messaging mode has no offline variants (seed 003).
    }
    for (const action of trigger.actions) {
      if (action.kind === "showButton") this.showItem("button", action.button, mode);
      else if (action.kind === "showInvitation") this.showItem("invitation", action.invitation, mode);
      else if (!execute) continue;
      else if (action.kind === "openChat") await this.open("openChat", trigger.id);
      else if (action.kind === "welcomeMessage") await this.open("welcomeMessage", trigger.id, action.message);
    }
  }

  private showItem(kind: "button" | "invitation", id: string, mode: Mode): void {
    if (this.suspended) return;
    if (this.visitList("cm.dismissed").ids.includes(`${kind}:${id}`)) return;
    const shown =
      kind === "button"
        ? this.deps.proactive.buttons[id] && this.items.showButton(id, this.deps.proactive.buttons[id], mode)
        : this.deps.proactive.invitations[id] &&
          this.items.showInvitation(id, this.deps.proactive.invitations[id], mode);
    if (shown) {
      this.track(`${kind}_shown`, id, { mode });
      if (kind === "button") this.deps.emit("button:shown", { source: "chatmanager", mode });
    }
  }

  private async open(source: string, name: string, welcome?: string): Promise<void> {
    this.track("chat_shown", name, { source });
    await this.deps.openWidget(welcome ? { welcome } : {});
  }

  private accept(kind: "button" | "invitation", id: string, mode: Mode): void {
    this.track(kind === "button" ? "button_clicked" : "invitation_accepted", id, { mode });
    if (kind === "invitation") this.items.remove(kind, id);
    this.open(kind, id).catch(() => undefined);
  }

  private dismiss(kind: "button" | "invitation", id: string): void {
    this.items.remove(kind, id);
    this.remember("cm.dismissed", `${kind}:${id}`);
    this.track(`${kind}_dismissed`, id);
  }
}
