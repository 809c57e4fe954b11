/** Renders messages as DOM built from text nodes only: nothing a visitor or an
 * integration sends is ever parsed as HTML or run as script. */

import { el, safeUrl } from "../common/escape";
import type { Attachment, Message } from "./types";

type Payload = Record<string, unknown>;

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as Payload).content === "string") {
    return (value as Payload).content as string;
  }
  return "";
}

function actions(payload: Payload): HTMLElement {
  const list = el("ul", { class: "rich-actions" });
  const items = Array.isArray(payload.actions) ? payload.actions : [];
  for (const action of items) {
    const item = action as Payload;
    const label = asText(item.text) || asText(item.title);
    const description = asText(item.description);
    list.append(el("li", {}, el("span", { class: "chip" }, label), description ? el("small", {}, " " + description) : ""));
  }
  return list;
}

function richLink(payload: Payload): HTMLElement {
  const url = safeUrl(payload.url);
  const title = asText(payload.title) || String(payload.url || "");
  const box = el("div", { class: "rich-link" });
  const media = payload.media && typeof payload.media === "object" ? (payload.media as Payload) : null;
  const image = media ? safeUrl(media.url) : null;
  if (image) box.append(el("img", { src: image, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }));
  if (url) box.append(el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, title));
  else box.append(el("span", {}, title));
  return box;
}

function attachmentLink(attachment: Attachment): HTMLElement {
  const url = safeUrl(attachment.url);
  const size = attachment.size > 1024 * 1024 ? `${(attachment.size / 1048576).toFixed(1)} MB` : `${Math.ceil(attachment.size / 1024)} KB`;
  const label = `${attachment.file_name} (${size})`;
  return url
    ? el("a", { class: "attachment", href: url, download: attachment.file_name, rel: "noopener noreferrer" }, label)
    : el("span", { class: "attachment" }, label);
}

/** The body of one message, by content type. */
export function messageBody(message: Message): HTMLElement {
  const body = el("div", { class: "body" });
  const content = message.content || {};
  const payload = (content.payload || {}) as Payload;
  switch (message.content_type) {
    case "QUICK_REPLIES":
      body.append(el("p", {}, asText(payload.text) || content.text || ""), actions(payload));
      break;
    case "LIST_PICKER":
      body.append(el("p", { class: "title" }, asText(payload.title)), el("p", {}, asText(payload.text)), actions(payload));
      break;
    case "RICH_LINK":
      body.append(richLink(payload));
      break;
    case "POSTBACK":
      body.append(el("p", {}, content.text || content.postback || ""), el("small", { class: "postback" }, "button reply"));
      break;
    case "PLUGIN":
    case "ADAPTIVE_CARD":
      body.append(el("p", {}, content.fallbackText || content.text || `[${message.content_type.toLowerCase()}]`));
      break;
    default:
      if (content.text) body.append(el("p", {}, content.text));
  }
  if (message.attachments.length) {
    const files = el("div", { class: "attachments" });
    for (const attachment of message.attachments) files.append(attachmentLink(attachment));
    body.append(files);
  }
  return body;
}

function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function receipt(message: Message): string {
  if (message.direction !== "outbound" || message.is_internal) return "";
  if (message.seen_at) return "Seen";
  if (message.delivered_at) return "Delivered";
  return "Sent";
}

/** One list item for the conversation history. */
export function messageItem(message: Message, customerName: string): HTMLLIElement {
  const kind = message.is_internal ? "note" : message.direction === "inbound" ? "inbound" : "outbound";
  const author = message.is_internal
    ? `Note · ${message.author_agent?.name ?? "agent"}`
    : message.direction === "inbound"
      ? customerName || "Visitor"
      : message.author_agent?.name ?? (message.author_type === "bot" ? "Bot" : "System");
  const item = el("li", { class: `message ${kind}`, "data-sequence": String(message.sequence), "data-testid": "message" });
  const meta = el("div", { class: "meta" }, el("span", { class: "author" }, author), el("time", { datetime: message.created_at }, time(message.created_at)));
  const state = receipt(message);
  if (state) meta.append(el("span", { class: "receipt", "data-receipt": state.toLowerCase() }, state));
  item.append(meta, messageBody(message));
  return item;
}
