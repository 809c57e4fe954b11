/** Chat buttons and invitations on the host page, in a shadow root of their own.
 *
 * Text from admin goes in with textContent only; colours are checked hex values;
 * styles are a constructed stylesheet (works under a strict CSP). */

export interface ButtonConfig {
  placement: "floating" | "fixed";
  position: string;
  container?: string;
  background: string;
  color: string;
  online: { text: string };
  offline: { text: string } | null;
}

export interface InvitationConfig {
  position: string;
  background: string;
  color: string;
  dismiss: string;
  online: { title: string; text: string; accept: string };
  offline: { title: string; text: string; accept: string } | null;
}

export type Mode = "online" | "offline";

export interface ItemHandlers {
  accept(kind: "button" | "invitation", id: string, mode: Mode): void;
  dismiss(kind: "button" | "invitation", id: string, mode: Mode): void;
}

const CSS =
  ":host{all:initial!important}" +
  "*{box-sizing:border-box;font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
  ".item{position:fixed;z-index:2147482999}" +
  ".bottom-right{right:20px;bottom:20px}.bottom-left{left:20px;bottom:20px}" +
  ".right{right:0;top:50%;transform:translateY(-50%)}.left{left:0;top:50%;transform:translateY(-50%)}" +
  ".center{left:50%;top:50%;transform:translate(-50%,-50%)}" +
  ".button{border:0;border-radius:24px;padding:12px 20px;font-weight:600;cursor:pointer;box-shadow:0 2px 10px #0004}" +
  ".fixed{position:static;display:inline-block}" +
  ".invitation{width:300px;max-width:calc(100vw - 40px);border-radius:12px;padding:16px 16px 14px;box-shadow:0 4px 20px #0004}" +
  ".invitation h2{font-size:17px;font-weight:700;margin:0 24px 6px 0}.invitation p{margin:0 0 14px}" +
  ".actions button{border:0;border-radius:16px;padding:8px 14px;margin-right:8px;font-weight:600;cursor:pointer}" +
  ".close{position:absolute;right:8px;top:6px;background:none;border:0;font-size:20px;cursor:pointer;color:inherit}" +
  "button:focus-visible{outline:3px solid #000;outline-offset:2px}";

const HEX = /^#[0-9a-fA-F]{6}$/;
const safeColor = (value: string, fallback: string) => (HEX.test(value) ? value : fallback);
const POSITIONS = new Set(["bottom-right", "bottom-left", "right", "left", "center"]);

export class Items {
  private host: HTMLElement | undefined;
  private root: ShadowRoot | undefined;
  private shown = new Map<string, HTMLElement>();

  constructor(
    private doc: Document,
    private handlers: ItemHandlers,
  ) {}

  private ensureRoot(): ShadowRoot {
    if (this.root && this.host?.isConnected) return this.root;
    this.host = this.doc.createElement("parley-items");
    this.root = this.host.attachShadow({ mode: "open" });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.root.adoptedStyleSheets = [sheet];
    } catch {
      const style = this.doc.createElement("style");
      style.textContent = CSS;
      this.root.appendChild(style);
    }
    this.doc.body.appendChild(this.host);
    return this.root;
  }

  has(kind: string, id: string): boolean {
    return this.shown.has(`${kind}:${id}`);
  }

  private element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string) {
    const node = this.doc.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  showButton(id: string, config: ButtonConfig, mode: Mode): boolean {
    const variant = mode === "offline" ? config.offline : config.online;
    if (!variant || this.has("button", id)) return false;
    const button = this.element("button", "button item", variant.text);
    button.type = "button";
    button.dataset.parleyButton = id;
    button.dataset.mode = mode;
    button.style.background = safeColor(config.background, "#2f5d8a");
    button.style.color = safeColor(config.color, "#ffffff");
    button.onclick = () => this.handlers.accept("button", id, mode);
    if (config.placement === "fixed" && config.container) {
      let target: Element | null = null;
      try {
        target = this.doc.querySelector(config.container);
      } catch {
        target = null;
      }
      if (!target) return false;
      // A fixed button lives in the page's element, in a shadow root of its own.
      const host = this.doc.createElement("parley-button");
      const root = host.attachShadow({ mode: "open" });
      button.className = "button fixed";
      const sheet = this.ensureRoot().adoptedStyleSheets;
      if (sheet.length) root.adoptedStyleSheets = sheet;
      root.appendChild(button);
      target.appendChild(host);
      this.shown.set(`button:${id}`, host);
      return true;
    }
    button.classList.add(POSITIONS.has(config.position) ? config.position : "bottom-right");
    this.ensureRoot().appendChild(button);
    this.shown.set(`button:${id}`, button);
    return true;
  }

  showInvitation(id: string, config: InvitationConfig, mode: Mode): boolean {
    const variant = mode === "offline" ? config.offline : config.online;
    if (!variant || this.has("invitation", id)) return false;
    const box = this.element("div", `invitation item ${POSITIONS.has(config.position) ? config.position : "bottom-right"}`);
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", variant.title);
    box.dataset.parleyInvitation = id;
    box.dataset.mode = mode;
    const background = safeColor(config.background, "#2f5d8a");
    const color = safeColor(config.color, "#ffffff");
    box.style.background = background;
    box.style.color = color;
    box.appendChild(this.element("h2", "", variant.title));
    box.appendChild(this.element("p", "", variant.text));
    const actions = box.appendChild(this.element("div", "actions"));
    const accept = actions.appendChild(this.element("button", "accept", variant.accept));
    accept.type = "button";
    accept.style.background = color;
    accept.style.color = background;
    accept.onclick = () => this.handlers.accept("invitation", id, mode);
    const dismiss = actions.appendChild(this.element("button", "dismiss", config.dismiss));
    dismiss.type = "button";
    dismiss.onclick = () => this.handlers.dismiss("invitation", id, mode);
    const close = box.appendChild(this.element("button", "close", "×"));
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.onclick = () => this.handlers.dismiss("invitation", id, mode);
    this.ensureRoot().appendChild(box);
    this.shown.set(`invitation:${id}`, box);
    return true;
  }

  remove(kind: string, id: string): void {
    this.shown.get(`${kind}:${id}`)?.remove();
    this.shown.delete(`${kind}:${id}`);
  }

  clear(): void {
    for (const node of this.shown.values()) node.remove();
    this.shown.clear();
  }
}
