/** The visible state of one thread: messages in order, with delivery marks.
 * Pure data, no DOM: the view renders it (docs/frontend.md). */

export type Status = "sending" | "sent" | "delivered" | "seen" | "failed";

export interface ChatAttachment {
  url: string;
  name: string;
  mimeType: string;
  previewUrl: string;
}

export interface ChatMessage {
  id: string;
  clientId: string;
  direction: "inbound" | "outbound";
  type: string;
  payload: any;
  text: string;
  author: string;
  createdAt: string;
  attachments: ChatAttachment[];
  status: Status;
}

const RANK: Record<Status, number> = { failed: 0, sending: 1, sent: 2, delivered: 3, seen: 4 };

function authorOf(message: any): string {
  const user = message.authorUser;
  if (user) return (user.nickname || `${user.firstName || ""} ${user.surname || ""}`).trim();
  const customer = message.authorEndUserIdentity;
  return (customer && (customer.fullName || `${customer.firstName || ""} ${customer.lastName || ""}`.trim())) || "";
}

function statusOf(message: any): Status {
  if (message.userStatistics?.readAt || message.userStatistics?.seenAt || message.seen?.length) return "seen";
  if (message.delivered?.length) return "delivered";
  return "sent";
}

/** A wire Message (reference §7.1) as the widget shows it. */
export function fromWire(message: any): ChatMessage {
  const content = message.messageContent || {};
  const payload = content.payload || {};
  const text =
    typeof payload.text === "string"
      ? payload.text
      : payload.text?.content || payload.title?.content || content.fallbackText || "";
  return {
    id: String(message.id || message.idOnExternalPlatform || ""),
    clientId: String(message.idOnExternalPlatform || message.id || ""),
    direction: message.direction === "inbound" ? "inbound" : "outbound",
    type: String(content.type || "TEXT"),
    payload,
    text,
    author: authorOf(message),
    createdAt: String(message.createdAtWithMilliseconds || message.createdAt || new Date().toISOString()),
    attachments: (message.attachments || []).map((a: any) => ({
      url: String(a.url || a.securedPermanentUrl || ""),
      name: String(a.friendlyName || a.fileName || "file"),
      mimeType: String(a.mimeType || ""),
      previewUrl: String(a.previewUrl || ""),
    })),
    status: statusOf(message),
  };
}

export class Conversation {
  messages: ChatMessage[] = [];

  constructor(public threadId: string) {}

  find(id: string): ChatMessage | undefined {
    return this.messages.find((m) => m.id === id || m.clientId === id);
  }

  /** Adds or updates a message; a server copy replaces the pending one with the same client id. */
  upsert(message: ChatMessage): ChatMessage {
    const existing = this.messages.find(
      (m) => m.id === message.id || (message.clientId && m.clientId === message.clientId),
    );
    if (existing) {
      const status = RANK[existing.status] > RANK[message.status] ? existing.status : message.status;
      Object.assign(existing, message, { status });
      return existing;
    }
    this.messages.push(message);
    this.messages.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    return message;
  }

  /** Raises the mark of the visitor's messages up to `id` (all of them without an id). */
  mark(status: Status, id?: string): void {
    const limit = id ? this.find(id) : undefined;
    for (const message of this.messages) {
      if (message.direction !== "inbound" || message.status === "failed" || message.status === "sending") continue;
      if (limit && message.createdAt > limit.createdAt) continue;
      if (RANK[message.status] < RANK[status]) message.status = status;
    }
  }

  /** The newest message the agent side wrote (for "seen" receipts), if any. */
  lastOutbound(): ChatMessage | undefined {
    return [...this.messages].reverse().find((m) => m.direction === "outbound");
  }
}
