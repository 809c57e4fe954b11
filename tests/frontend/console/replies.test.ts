import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../../static/src/console/api";
import { MAX_FRAME_BYTES, ReplySender, type Draft } from "../../../static/src/console/replies";
import { ConsoleSocket, SocketUnavailable } from "../../../static/src/console/socket";
import type { ClientFrame, Message, ServerFrame } from "../../../static/src/console/types";

function message(clientId: string, extra: Partial<Message> = {}): Message {
  return {
    id: `m-${clientId}`,
    thread_id: 4,
    sequence: 3,
    client_id: clientId,
    direction: "outbound",
    author_type: "agent",
    author_agent: { id: 1, name: "Alice" },
    content_type: "TEXT",
    content: { text: "Hello" },
    is_internal: false,
    created_at: "2026-01-01T10:00:00Z",
    delivered_at: null,
    seen_at: null,
    attachments: [],
    ...extra,
  };
}

/** A socket whose answers the test scripts, one per request. */
class ScriptedSocket {
  frames: ClientFrame[] = [];
  answers: Array<(frame: ClientFrame) => Promise<ServerFrame>> = [];
  request(frame: ClientFrame): Promise<ServerFrame> {
    this.frames.push(frame);
    const answer = this.answers.shift();
    if (!answer) return Promise.reject(new SocketUnavailable("The console socket is not open."));
    return answer(frame);
  }
}

class RecordingApi {
  posts: Array<{ path: string; body: any }> = [];
  fail: Error | null = null;
  async post<T>(path: string, body: unknown): Promise<T> {
    this.posts.push({ path, body });
    if (this.fail) throw this.fail;
    return message((body as { client_id: string }).client_id, { id: "from-rest" }) as T;
  }
}

const draft: Draft = { threadId: 4, text: "Hello", isInternal: false, attachmentIds: [] };

function sender(socket: ScriptedSocket, api: RecordingApi): ReplySender {
  let n = 0;
  return new ReplySender(socket, api, () => `id-${++n}`);
}

const sent = (frame: ClientFrame): Promise<ServerFrame> =>
  Promise.resolve({ type: "sent", ref: null, thread_id: 4, created: true, message: message((frame as { client_id: string }).client_id) });

describe("ReplySender", () => {
  it("sends over the socket when it is open, and not over REST", async () => {
    const socket = new ScriptedSocket();
    const api = new RecordingApi();
    socket.answers.push(sent);
    const result = await sender(socket, api).send({ ...draft, attachmentIds: ["f-1"] });
    expect(socket.frames).toEqual([
      { type: "send", thread_id: 4, text: "Hello", client_id: "id-1", is_internal: false, attachment_ids: ["f-1"] },
    ]);
    expect(result.client_id).toBe("id-1");
    expect(api.posts).toEqual([]);
  });

  it("falls back to REST with the same client id when the socket is down or drops the answer", async () => {
    const socket = new ScriptedSocket();
    const api = new RecordingApi();
    const replies = sender(socket, api);
    const first = await replies.send(draft); // no answer scripted: the socket is not open
    expect(first.id).toBe("from-rest");
    socket.answers.push(() => Promise.reject(new SocketUnavailable("The console socket closed.")));
    await replies.send({ ...draft, text: "Second", isInternal: true });
    expect(socket.frames.map((frame) => (frame as { client_id: string }).client_id)).toEqual(["id-1", "id-2"]);
    expect(api.posts).toEqual([
      { path: "/threads/4/messages/", body: { text: "Hello", client_id: "id-1", is_internal: false } },
      { path: "/threads/4/messages/", body: { text: "Second", client_id: "id-2", is_internal: true } },
    ]);
  });

  it("shows a refusal from the socket and does not try REST", async () => {
    const socket = new ScriptedSocket();
    const api = new RecordingApi();
    socket.answers.push(() => Promise.resolve({ type: "error", code: "not_assigned", message: "Accept the contact before replying.", ref: "q1" }));
    const failure = await sender(socket, api).send(draft).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect([(failure as ApiError).code, (failure as ApiError).message]).toEqual(["not_assigned", "Accept the contact before replying."]);
    expect(api.posts).toEqual([]);
  });

  it("keeps the client id of a draft sent again after a failure, and takes a new one for a new draft", async () => {
    const socket = new ScriptedSocket();
    const api = new RecordingApi();
    const replies = sender(socket, api);
    api.fail = new TypeError("Failed to fetch"); // socket down, REST fails too: was it written?
    await expect(replies.send(draft)).rejects.toThrow("Failed to fetch");
    api.fail = null;
    socket.answers.push(sent);
    expect((await replies.send(draft)).client_id).toBe("id-1"); // the retry: written once whatever happened
    expect((await replies.send(draft)).client_id).toBe("id-2"); // the same text sent on purpose again
    expect((await replies.send({ ...draft, threadId: 5 })).client_id).toBe("id-3");
    expect(socket.frames.map((frame) => (frame as { client_id: string }).client_id)).toEqual(["id-1", "id-1", "id-2", "id-3"]);
    expect(api.posts.map((post) => post.body.client_id)).toEqual(["id-1", "id-2", "id-3"]);
  });

  it("sends a reply too large for one socket frame over REST", async () => {
    const socket = new ScriptedSocket();
    const api = new RecordingApi();
    const text = "\u0001".repeat(15000); // 6 bytes each once escaped in JSON
    await sender(socket, api).send({ ...draft, text });
    expect(socket.frames).toEqual([]);
    expect(api.posts.map((post) => post.body.text.length)).toEqual([15000]);
    expect(MAX_FRAME_BYTES).toBe(65536);
  });
});

/** A WebSocket double with the listener API the console socket uses. */
class ListenerSocket {
  static OPEN = 1;
  static instances: ListenerSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  private listeners: Record<string, Array<(event: any) => void>> = {};
  constructor(public url: string) {
    ListenerSocket.instances.push(this);
  }
  addEventListener(name: string, listener: (event: any) => void): void {
    (this.listeners[name] ||= []).push(listener);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.readyState = 3;
    for (const listener of this.listeners.close || []) listener({ code });
  }
  serverSends(frame: unknown): void {
    for (const listener of this.listeners.message || []) listener({ data: JSON.stringify(frame) });
  }
}

describe("ConsoleSocket.request", () => {
  let frames: ServerFrame[];
  let socket: ConsoleSocket;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", ListenerSocket);
    ListenerSocket.instances = [];
    frames = [];
    socket = new ConsoleSocket("ws://test/ws/console", {
      frame: (frame) => frames.push(frame),
      state: () => undefined,
      resyncMap: () => ({}),
      reconnected: () => undefined,
      failing: () => undefined,
    });
    socket.connect();
    const server = ListenerSocket.instances[0];
    server.readyState = 1;
    server.serverSends({ type: "welcome", protocol: 1, agent: { id: 1, name: "A", role: "agent", presence: "available" }, tenant: { id: 1, slug: "acme", name: "Acme" } });
  });

  afterEach(() => {
    socket.stop();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  const frame: ClientFrame = { type: "send", thread_id: 4, client_id: "c1", text: "Hi" };

  it("resolves with the answer carrying its ref, which the frame handler does not see", async () => {
    const server = ListenerSocket.instances[0];
    const answer = socket.request(frame);
    expect(server.sent).toEqual([{ ...frame, ref: "q1" }]);
    server.serverSends({ type: "message", thread_id: 4, message: message("c1") });
    server.serverSends({ type: "sent", ref: "q1", thread_id: 4, created: true, message: message("c1") });
    expect((await answer).type).toBe("sent");
    expect(frames.map((f) => f.type)).toEqual(["welcome", "message"]);
  });

  it("rejects when the socket is not open, closes before the answer, or does not answer in time", async () => {
    const server = ListenerSocket.instances[0];
    const late = socket.request(frame, 1000);
    vi.advanceTimersByTime(1000);
    await expect(late).rejects.toBeInstanceOf(SocketUnavailable);
    const dropped = socket.request(frame);
    server.close(1006);
    await expect(dropped).rejects.toBeInstanceOf(SocketUnavailable);
    await expect(socket.request(frame)).rejects.toBeInstanceOf(SocketUnavailable);
    expect(server.sent.map((sent) => sent.ref)).toEqual(["q1", "q2"]);
  });
});
