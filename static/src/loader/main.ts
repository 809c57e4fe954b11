/** The per-channel loader (docs/frontend.md, "Loader").
 *
 * Served at /loader/{brandId}/{channelId}.js by guide/loader/views.py, which
 * wraps this bundle as `(function(PARLEY_CONFIG){…})({…channel config…})`, so
 * nothing here leaks into the host page's globals except `window.parley`.
 *
 * It keeps to the minimum needed before the visitor interacts:
 * - builds the page-wide ParleyContext (event bus, page API, module loader);
 * - imports session storage, web analytics and the chat manager in parallel
 *   (content-hashed ES modules, cached long);
 * - shows the default chat button from the inlined theme, unless the chat
 *   manager announces "chatmanager:ready" and takes over (or the channel asks to
 *   wait for it with `deferButton`);
 * - imports the chat client only when a button is pressed, the page calls
 *   parley('open'), or a chat from an earlier page continues.
 *
 * It must not import anything at run time: it is inlined in a classic script.
 */
import type { ChannelConfig, Listener, ModuleName, ParleyContext } from "../common/context";

declare const PARLEY_CONFIG: ChannelConfig & {
  modules: Partial<Record<ModuleName, string>>;
  /** Chunks the widget imports statically: fetched alongside it (one round trip, not two). */
  preload?: string[];
  deferButton?: boolean;
  theme?: Record<string, string>;
  translations?: Record<string, Record<string, string>>;
};

type Call = unknown[];

/** A speech bubble (24×24 viewBox); the widget's launcher uses the same path. */
const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
type ParleyFunction = ((...args: Call) => unknown) & { q?: Call[] };

const config = PARLEY_CONFIG;
const w = window as unknown as { parley?: ParleyFunction };
const script = document.currentScript as HTMLScriptElement | null;
const base = script ? new URL(script.src).origin : location.origin;
config.base = base;
config.gateway = base.replace(/^http/, "ws") + "/ws/visitor";
const embed = script && script.getAttribute("data-parley-embed");
if (embed) {
  config.display = "embedded";
  config.container = embed;
}
if (config.display == "embedded" && !config.container) config.container = "#parley-chat";

const listeners: Record<string, Listener[]> = {};
const handlers: Record<string, (...args: unknown[]) => unknown> = {};
const waiting: Record<string, Call[]> = {};
const modules: Record<string, Promise<unknown>> = {};
let chatManager = false;
let button: HTMLElement | undefined;

const context: ParleyContext = {
  config,
  load(name) {
    const file = config.modules[name];
    const url = (path: string) => `${base}/static/dist/${path}`;
    if (!modules[name] && name == "widget") for (const chunk of config.preload || []) import(url(chunk)).catch(() => 0);
    return (modules[name] ||= file
      ? import(/* @vite-ignore */ url(file)).then((module) => module.default(context))
      : Promise.reject(new Error(`Parley: no module ${name}`)));
  },
  on(event, listener) {
    (listeners[event] ||= []).push(listener);
    return () => {
      listeners[event] = listeners[event].filter((other) => other !== listener);
    };
  },
  emit(event, detail) {
    for (const listener of (listeners[event] || []).slice()) {
      try {
        listener(detail);
      } catch (error) {
        console.error(error);
      }
    }
  },
  command(name, handler) {
    handlers[name] = handler;
    for (const args of waiting[name] || []) handler(...args);
    delete waiting[name];
  },
};

/** The page API: parley(command, ...args). Calls before a handler exists wait for it. */
function parley(...call: unknown[]): unknown {
  const name = String(call[0]);
  const args = call.slice(1);
  if (handlers[name]) return handlers[name](...args);
  (waiting[name] ||= []).push(args);
}

function openChat(options?: unknown): Promise<unknown> {
  return context.load("widget").then((widget) => (widget as { open(o?: unknown): void }).open(options));
}

/** The default chat button: a small path the chat manager takes over when present. */
function showButton(): void {
  if (button || chatManager || config.display == "embedded") return;
  const theme = config.theme || {};
  const labels = config.translations || {};
  const language = navigator.language.replace("-", "_");
  const label =
    (labels[language] || labels[language.split("_")[0]] || labels.en || {}).weAreOnline || "Chat with us";
  button = document.createElement("parley-button");
  const root = button.attachShadow({ mode: "open" });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(
    ":host{all:initial!important}button{position:fixed;bottom:20px;right:20px;z-index:2147483000;" +
      "width:56px;height:56px;border:0;border-radius:50%;cursor:pointer;box-shadow:0 2px 10px #0004;" +
      `background:${theme.buttonColor || "#2f5d8a"};color:${theme.headerFontColor || "#fff"}}` +
      "button:focus-visible{outline:3px solid #000;outline-offset:2px}svg{width:28px;height:28px;fill:currentColor}",
  );
  root.adoptedStyleSheets = [sheet];
  const press = root.appendChild(document.createElement("button"));
  press.setAttribute("aria-label", label);
  press.title = label;
  const svg = "http://www.w3.org/2000/svg";
  const icon = press.appendChild(document.createElementNS(svg, "svg"));
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  icon.appendChild(document.createElementNS(svg, "path")).setAttribute("d", CHAT_ICON);
  press.onclick = () => openChat();
  document.body.appendChild(button);
  context.emit("button:shown", { source: "loader" });
}

function hideButton(): void {
  button?.remove();
}

context.on("chatmanager:ready", () => {
  chatManager = true;
  hideButton();
});
context.on("widget:ready", hideButton);
context.command("on", (event, listener) => context.on(String(event), listener as Listener));
context.command("open", openChat);

const queued = (w.parley && w.parley.q) || [];
w.parley = parley;
for (const call of queued) parley(...call);

const sessionReady = context.load("session");
context.load("analytics").catch(() => undefined);
const managerReady = config.modules.chatmanager ? context.load("chatmanager") : Promise.reject();

// Continuity: a chat engaged on an earlier page (or an embedded chat) comes back at once.
sessionReady
  .then((session) => {
    const state = (session as { get(key: string): { engaged?: boolean } | undefined }).get("chat");
    if (config.display == "embedded" || (state && state.engaged)) return openChat({ restore: true });
  })
  .catch((error) => console.error(error));

if (!config.deferButton) showButton();
managerReady.then(
  () => chatManager || showButton(),
  () => showButton(),
);
