/** Sending a reply (or a note): over the console socket when it is open, else over the REST API.
 *
 * Every draft gets a client id; the server writes a client id once per thread and
 * answers a repeat with the original message. So when the socket is down, closes
 * before answering, or does not answer in time, the same draft goes over REST with
 * the same id, and a draft sent again after a failure (same thread, text, kind and
 * files) keeps its id too: a reply is never lost nor written twice. A refusal by
 * the server (`error` frame or HTTP error) is final and shown. See
 * docs/agent-protocol.md (`send`). */

import { ApiError } from "./api";
import { SocketUnavailable } from "./socket";
import type { ClientFrame, Message, ServerFrame } from "./types";

/** The socket's frame limit (chat/console/protocol.py MAX_FRAME_BYTES); larger replies go over REST. */
export const MAX_FRAME_BYTES = 64 * 1024;
const REF_ROOM = 32;

export interface Draft {
  threadId: number;
  text: string;
  isInternal: boolean;
  attachmentIds: string[];
}

export interface ReplySocket {
  request(frame: ClientFrame): Promise<ServerFrame>;
}

export interface ReplyApi {
  post<T>(path: string, body: unknown): Promise<T>;
}

export function newClientId(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `c-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export class ReplySender {
  private pending: { key: string; clientId: string } | null = null;

  constructor(
    private readonly socket: ReplySocket,
    private readonly api: ReplyApi,
    private readonly newId: () => string = newClientId,
  ) {}

  async send(draft: Draft): Promise<Message> {
    const key = JSON.stringify([draft.threadId, draft.text, draft.isInternal, draft.attachmentIds]);
    if (this.pending?.key !== key) this.pending = { key, clientId: this.newId() };
    const clientId = this.pending.clientId;
    const message = await this.deliver(draft, clientId);
    if (this.pending?.key === key) this.pending = null;
    return message;
  }

  private async deliver(draft: Draft, clientId: string): Promise<Message> {
    const body: { text: string; client_id: string; is_internal: boolean; attachment_ids?: string[] } = {
      text: draft.text,
      client_id: clientId,
      is_internal: draft.isInternal,
    };
    if (draft.attachmentIds.length) body.attachment_ids = draft.attachmentIds;
    const frame: ClientFrame = { type: "send", thread_id: draft.threadId, ...body };
    if (new TextEncoder().encode(JSON.stringify(frame)).length + REF_ROOM <= MAX_FRAME_BYTES) {
      try {
        const answer = await this.socket.request(frame);
        if (answer.type === "sent") return answer.message;
        if (answer.type === "error") throw new ApiError(0, answer.code, answer.message);
      } catch (failure) {
        if (!(failure instanceof SocketUnavailable)) throw failure;
      }
    }
    return this.api.post<Message>(`/threads/${draft.threadId}/messages/`, body);
  }
}
