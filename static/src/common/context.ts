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
