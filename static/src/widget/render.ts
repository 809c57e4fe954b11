/** Renders messages, rich content included, as DOM built from text nodes.
 *
 * Whatever a visitor, agent, bot or integration wrote is inserted with
 * textContent / createTextNode (common/escape.ts), never as HTML; URLs pass
 * safeUrl(), so javascript: and data: links cannot appear. */
import { el, safeUrl } from "../common/escape";
import type { ChatAttachment, ChatMessage } from "./conversation";
import type { Texts } from "./i18n";

export type Reply = (text: string, postback: string) => void;

function replyButtons(actions: any[], reply: Reply): HTMLElement | null {
  const buttons = (Array.isArray(actions) ? actions : [])
    .filter((action) => action && typeof action.text === "string")
    .map((action) => {
      const button = el("button", { type: "button" }, action.text);
      if (typeof action.description === "string" && action.description) button.title = action.description;
      button.addEventListener("click", () => {
        reply(action.text, String(action.postback ?? action.text));
        container.querySelectorAll("button").forEach((other) => ((other as HTMLButtonElement).disabled = true));
      });
      return button;
    });
  const container = el("div", { class: "actions" }, ...buttons);
  return buttons.length ? container : null;
}

function link(url: string, label: string): HTMLElement {
  const safe = safeUrl(url);
  if (!safe) return el("span", {}, label);
  return el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, label);
}

export function attachment(file: ChatAttachment, t: Texts): HTMLElement {
  const safe = safeUrl(file.url);
  const preview = safeUrl(file.previewUrl || file.url);
  if (safe && preview && file.mimeType.startsWith("image/")) {
    const image = el("img", { src: preview, alt: file.name, loading: "lazy" });
    return el("div", { class: "file" }, el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, image));
  }
  return el("div", { class: "file bubble" }, safe ? link(safe, file.name) : el("span", {}, `${file.name} (${t.failed})`));
}

function plugin(elements: any[], reply: Reply): Node[] {
  const nodes: Node[] = [];
  for (const element of Array.isArray(elements) ? elements : []) {
    if (!element || typeof element !== "object") continue;
    const text = element.text ?? element.title ?? "";
    if (element.type === "BUTTON") {
      const buttons = replyButtons([{ text, postback: element.postback }], reply);
      if (buttons) nodes.push(buttons);
    } else if (element.type === "FILE") nodes.push(link(element.url, element.filename || element.fileName || "file"));
    else if (Array.isArray(element.elements)) nodes.push(...plugin(element.elements, reply));
    else if (typeof text === "string" && text) nodes.push(el(element.type === "TITLE" ? "strong" : "p", {}, text));
  }
  return nodes;
}

/** The content of one message: its text, rich parts and attachments. */
export function content(message: ChatMessage, reply: Reply, t: Texts): Node[] {
  const payload = message.payload || {};
  const nodes: Node[] = [];
  switch (message.type) {
    case "QUICK_REPLIES":
    case "LIST_PICKER": {
      const title = payload.title?.content;
      const body = el("div", { class: "bubble" });
      if (typeof title === "string" && title) body.append(el("strong", {}, title), "\n");
      body.append(message.text === title ? "" : message.text);
      nodes.push(body);
      const buttons = replyButtons(payload.actions, reply);
      if (buttons) nodes.push(buttons);
      break;
    }
    case "RICH_LINK": {
      const card = el("div", { class: "card" });
      const media = safeUrl(payload.media?.url);
      if (media) card.append(el("img", { src: media, alt: "", loading: "lazy" }));
      card.append(link(payload.url, payload.title?.content || payload.url || t.openLink));
      nodes.push(card);
      break;
    }
    case "PLUGIN": {
      const parts = plugin(payload.elements, reply);
      nodes.push(parts.length ? el("div", { class: "bubble" }, ...parts) : el("div", { class: "bubble" }, message.text));
      break;
    }
    default:
      if (message.text) nodes.push(formatted(message.text));
  }
  for (const file of message.attachments) nodes.push(attachment(file, t));
  return nodes;
}

/** Markdown-ish characters in the text cost nothing upfront: the text shows at once, the
 * formatter is imported on first need (rarely used) and then replaces it in place. */
const MARKUP = /[*_`]|\]\(|https?:\/\//;

function formatted(text: string): HTMLElement {
  const bubble = el("div", { class: "bubble" }, text);
  if (MARKUP.test(text)) {
    import("./markdown").then(
      ({ markdown }) => bubble.replaceChildren(...markdown(text)),
      () => undefined,
    );
  }
  return bubble;
}

export function time(iso: string): string {
  const date = new Date(iso);
  return isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** One message row: content, author and time, and the visitor's delivery mark. */
export function messageRow(message: ChatMessage, reply: Reply, t: Texts): HTMLElement {
  const mine = message.direction === "inbound";
  const row = el("div", { class: `msg ${mine ? "in" : "out"}`, "data-id": message.clientId });
  const who = mine ? t.you : message.author || t.someone;
  row.append(el("span", { class: "sr" }, `${who}:`), ...content(message, reply, t));
  const meta = [mine ? "" : who, time(message.createdAt), mine ? t[message.status] : ""].filter(Boolean).join(" · ");
  row.append(el("span", { class: "meta", "data-status": mine ? message.status : "" }, meta));
  return row;
}
