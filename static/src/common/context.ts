/** The contract between the per-channel loader and the modules it loads.
 *
 * The loader (served at /loader/{brandId}/{channelId}.js, config inlined) creates
 * one ParleyContext per page and loads modules on demand with dynamic import():
 * session storage and web analytics first, then the chat manager, and the chat
 * client (widget) only when something is to be shown. Every module is an ES
 * module built from static/src/<name>/main.ts whose default export is
 * `init(context)`. Module names: "session", "analytics", "chatmanager", "widget".
 * See docs/frontend.md.
 */

export interface ChannelConfig {
  brandId: number;
  channelId: string;
  /** Parley's origin, e.g. "https://parley.example" (no trailing slash). */
  base: string;
  /** Visitor gateway WebSocket URL, e.g. "wss://parley.example/ws/visitor". */
  gateway: string;
  isLiveChat: boolean;
  multiThread: boolean;
  display: "floating" | "embedded";
  /** CSS selector of the host element in embedded mode. */
  container?: string;
  /** Public configuration for the modules (theme, translations, rules, …). */
  [key: string]: unknown;
}

export type Listener = (detail: unknown) => void;

export interface ParleyContext {
  config: ChannelConfig;
  /** Loads (once) and initialises a module; resolves to its init() result. */
  load(name: "session" | "analytics" | "chatmanager" | "widget"): Promise<unknown>;
  /** Page-wide event bus shared by the modules and the page API `parley('on', …)`. */
  on(event: string, listener: Listener): () => void;
  emit(event: string, detail?: unknown): void;
  /** Registers a handler for a page API command: parley(command, ...args). */
  command(name: string, handler: (...args: unknown[]) => unknown): void;
}

// --- Additions by the loader/widget (issue 5); see docs/frontend.md -------------

export type ModuleName = "session" | "analytics" | "chatmanager" | "widget";

/** What `load("session")` resolves to: per-tenant storage (keys are namespaced by brandId).
 *
 * `get`/`set` use localStorage (survives reloads, tabs and restarts); `getSession`/
 * `setSession` use sessionStorage (this tab's visit). Never store a secured
 * session's customer identity here. */
export interface SessionStore {
  readonly visitorId: string;
  readonly visitId: string;
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  remove(key: string): void;
  getSession<T = unknown>(key: string): T | undefined;
  setSession(key: string, value: unknown): void;
  /** Calls `listener` when another tab changes `key`. */
  watch(key: string, listener: (value: unknown) => void): () => void;
  /** The visitor's identity registered with parley('identify') / parley('set'), in memory. */
  identity(): VisitorIdentity;
}

export interface VisitorIdentity {
  name?: string;
  email?: string;
  avatar?: string;
  /** A company-managed customer id; used only together with `token` (a server-signed JWT). */
  customerId?: string;
  token?: string;
  /** Third-party secured sessions: the authorization code of the brand's identity provider. */
  authorizationCode?: string;
  /** Extra values (parley('set', name, value)); sent as customer custom fields. */
  extra: Record<string, string>;
}

/** What `load("widget")` resolves to. The chat manager calls `open()` from its buttons
 * and invitations. */
export interface WidgetApi {
  /** `message` prefills the visitor's composer; `welcome` (added by issue 6) is a proactive
   * welcome message the chat shows as from the brand when it opens. */
  open(options?: { restore?: boolean; message?: string; welcome?: string }): void;
  minimize(): void;
  isOpen(): boolean;
}

/** Page-wide events (ctx.emit / ctx.on, and parley('on', name, fn) on the host page):
 *
 * - "chatmanager:ready": the chat manager handles button display; the loader's
 *   default button steps aside at once. When the loader was not told to defer
 *   (`deferButton`), emit it only once your own items are drawn (or you know none
 *   is to be shown), so that no button disappears in between.
 * - "button:shown" {source}: a chat button is visible.
 * - "widget:ready": the chat client is loaded; "widget:open", "widget:minimize".
 * - "chat:engaged" {threadId}: the visitor sent a first message (continuation starts).
 * - "chat:message" {direction, text}: a message was shown.
 * - "chat:ended": a live chat ended.
 * - "identity:changed": parley('identify') or parley('set') was called.
 *
 * Added by the proactive engagement modules (issue 6, docs/proactive.md):
 * - "analytics:pageview" {id, url, path, title, at}: a page view started (a load or
 *   a single-page app's history change); the chat manager re-evaluates its triggers.
 * - "chatmanager:context" {pageViews, customVariables}: while the visitor is engaged,
 *   the page trail (SendPageViews shape: {id, pageUrl, pageTitle, visitedAt, …}) and
 *   the custom variables agents may see ([{identifier, value}], StoreVisitor shape).
 *   Emitted on engagement, on every page view while engaged and on "widget:ready";
 *   the widget sends them over its socket so agents see them live.
 * - "chatmanager:<analytics event>" {name, …}: e.g. "chatmanager:invitation_shown".
 *
 * The chat manager fetches its configuration from /guide/1.0/brand/{b}/channel/{c}/proactive
 * (config.proactive when inlined); the loader config carries only `deferButton: true` when
 * the channel has triggers and `visitIdleMinutes` when it is not 30 (guide/proactive/config.py).
 * It reads the widget's "chat" record ({engaged, open, threadId}) from session storage; it keeps "cm.engagement" {at} (the last activity
 * of an engaged visitor, for the 24-hour idle rule), "cm.once" and "cm.dismissed"
 * ({visit, ids}) there, and "journey" is the analytics module's record of the visit.
 */
export type ParleyEvent =
  | "chatmanager:ready"
  | "button:shown"
  | "widget:ready"
  | "widget:open"
  | "widget:minimize"
  | "chat:engaged"
  | "chat:message"
  | "chat:ended"
  | "identity:changed"
  | "analytics:pageview"
  | "chatmanager:context";
