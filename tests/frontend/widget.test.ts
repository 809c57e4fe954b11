import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ParleyContext } from "../../static/src/common/context";
import { createStore } from "../../static/src/session/store";
import { ChatWidget } from "../../static/src/widget/widget";
import { FakeSocket, flush, jsonResponse } from "./fakes";

const CHANNEL_INFO = {
  translations: { welcomeMessage: "Welcome to Acme!", title: "Acme chat" },
  colors: { themeColor: "#123456" },
  settings: { fileRestrictions: { allowedFileSize: "5", allowedFileTypes: [{ mimeType: "image/*" }], isAttachmentsEnabled: true } },
  preContactForm: null,
  endUserCustomFields: [],
};

function context(overrides: Record<string, unknown> = {}): ParleyContext & { events: Array<[string, unknown]> } {
  const events: Array<[string, unknown]> = [];
  const listeners: Record<string, Array<(detail: unknown) => void>> = {};
  return {
    events,
    config: {
      brandId: 1001,
      channelId: "chat_msg",
      base: "https://parley.example",
      gateway: "wss://parley.example/ws/visitor",
      isLiveChat: false,
      multiThread: true,
      display: "floating",
      authMode: "anonymous",
      theme: {},
      translations: { en: { weAreOnline: "We're online" } },
      ...overrides,
    },
    load: async () => undefined,
    on(event, listener) {
      (listeners[event] ||= []).push(listener);
      return () => undefined;
    },
    emit(event, detail) {
      events.push([event, detail]);
      for (const listener of listeners[event] || []) listener(detail);
    },
    command: () => undefined,
  };
}

let requests: string[];

beforeEach(() => {
  localStorage.clear();
  document.body.replaceChildren();
  FakeSocket.reset();
  requests = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      requests.push(url);
      if (url.includes("/oauth/token")) return jsonResponse({ accessToken: "tt-1", customerIdentity: { idOnExternalPlatform: "cust-1" } });
      if (url.endsWith("/availability")) return jsonResponse({ status: "online" });
      return jsonResponse(CHANNEL_INFO);
    }),
  );
});

afterEach(() => vi.unstubAllGlobals());

function shadow(): ShadowRoot {
  return document.querySelector("parley-chat")!.shadowRoot!;
}

async function socketReady(): Promise<FakeSocket> {
  await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(1));
  const socket = FakeSocket.instances[0];
  socket.accept();
  await flush();
  return socket;
}

function answer(socket: FakeSocket, eventType: string, data: Record<string, unknown> = {}) {
  const request = socket.sent.filter((frame) => frame.payload).pop();
  socket.push({ eventId: request.eventId, postback: { eventType, data } });
  return request;
}

function agentMessage(threadId: string, text: string, id = "m-agent") {
  // A reply comes after what the visitor just typed (stamped with the real clock): never a fixed date.
  const at = new Date(Date.now() + 1000).toISOString();
  return {
    eventId: `push-${id}`,
    eventType: "MessageCreated",
    createdAt: at,
    data: {
      thread: { idOnExternalPlatform: threadId },
      message: {
        id,
        idOnExternalPlatform: id,
        threadIdOnExternalPlatform: threadId,
        direction: "outbound",
        messageContent: { type: "TEXT", payload: { text } },
        createdAtWithMilliseconds: at,
        attachments: [],
        authorUser: { firstName: "Alice", surname: "Agent", nickname: "Alice" },
      },
    },
  };
}

describe("ChatWidget, messaging with several threads", () => {
  it("does not bring back a chat whose visitor was idle for 24 hours (continuation ends)", () => {
    const store = createStore({ brandId: 1001 });
    store.set("chat", { engaged: true, open: true, threadId: "t-1" });
    store.set("cm.engagement", { at: Date.now() - 24 * 3600 * 1000 });
    const widget = new ChatWidget(context(), store);
    widget.open({ restore: true });
    expect(shadow().querySelector("section")!.hidden).toBe(true);
    expect(store.get("chat")).toEqual({ engaged: false, open: true, threadId: "t-1" });
  });

  it("shows a trigger's proactive welcome message instead of the channel's", async () => {
    const ctx = context();
    const widget = new ChatWidget(ctx, createStore({ brandId: 1001 }));
    const root = shadow();
    widget.open({ welcome: "Choosing a plan? Ask us." });
    const socket = await socketReady();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "FetchThreadList")).toBe(true));
    answer(socket, "ThreadListFetched", { threads: [] });
    await flush();
    (Array.from(root.querySelectorAll("button")).find((b) => b.textContent === "New conversation") as HTMLButtonElement).click();
    await flush();
    expect(Array.from(root.querySelectorAll(".notice")).map((n) => n.textContent)).toEqual(["Choosing a plan? Ask us."]);
  });

  it("opens on the thread list, starts a conversation and shows the agent's answer", async () => {
    const ctx = context();
    const widget = new ChatWidget(ctx, createStore({ brandId: 1001 }));
    const root = shadow();
    expect(root.querySelector("section")!.hidden).toBe(true);

    widget.open();
    expect(root.querySelector("section")!.hidden).toBe(false);
    expect(root.querySelector<HTMLButtonElement>("button.launcher")!.hidden).toBe(true);
    const socket = await socketReady();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "FetchThreadList")).toBe(true));
    answer(socket, "ThreadListFetched", { threads: [] });
    await flush();

    expect(requests.slice(0, 2).sort()).toEqual([
      "https://parley.example/chat/1.0/brand/1001/channel/chat_msg?locale=en_US",
      "https://parley.example/oauth/token?brandId=1001&channelId=chat_msg&visitorId=" + JSON.parse(localStorage.getItem("parley.1001.visitor")!),
    ].sort());
    expect(root.querySelector("h2")!.textContent).toBe("Conversations");
    (Array.from(root.querySelectorAll("button")).find((b) => b.textContent === "New conversation") as HTMLButtonElement).click();
    await flush();
    expect(root.querySelector(".notice")!.textContent).toBe("Welcome to Acme!");
    expect(root.querySelector<HTMLButtonElement>('button[aria-label="Attach a file"]')!.hidden).toBe(false);

    const box = root.querySelector("textarea")!;
    box.value = "Is the kettle in stock?";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "SendMessage")).toBe(true));
    const send = socket.sent.find((f) => f.payload?.eventType === "SendMessage");
    const threadId = send.payload.data.thread.idOnExternalPlatform;
    expect(send.payload.data.messageContent).toEqual({ type: "TEXT", payload: { text: "Is the kettle in stock?" } });
    expect(root.querySelector(".msg.in .meta")!.getAttribute("data-status")).toBe("sending");
    socket.push({ eventId: send.eventId });
    await flush();
    await flush();

    expect(root.querySelector(".msg.in .meta")!.getAttribute("data-status")).toBe("sent");
    expect(JSON.parse(localStorage.getItem("parley.1001.chat")!)).toEqual({ open: true, threadId, engaged: true });
    expect(ctx.events.map(([name]) => name)).toContain("chat:engaged");

    socket.push({ eventId: "t1", eventType: "SenderTypingStarted", data: { thread: { idOnExternalPlatform: threadId }, direction: "outbound", user: { nickname: "Alice" } } });
    expect(root.querySelector(".typing")!.textContent).toBe("Alice is typing…");
    socket.push(agentMessage(threadId, "Yes, twelve left."));

    expect(root.querySelector(".typing")!.textContent).toBe("");
    expect(Array.from(root.querySelectorAll(".msg .bubble")).map((b) => b.textContent)).toEqual([
      "Is the kettle in stock?",
      "Yes, twelve left.",
    ]);
    expect(socket.sent.filter((f) => f.payload?.eventType === "MessageSeenByConsumer")).toHaveLength(1);

    socket.push({ eventId: "r1", eventType: "MessageReadChanged", data: { message: { idOnExternalPlatform: send.payload.data.idOnExternalPlatform, threadIdOnExternalPlatform: threadId } } });
    expect(root.querySelector(".msg.in .meta")!.getAttribute("data-status")).toBe("seen");
  });

  it("minimises with Escape, counts unread agent messages and restores minimised", async () => {
    localStorage.setItem("parley.1001.chat", JSON.stringify({ open: false, engaged: true, threadId: "t-9" }));
    const widget = new ChatWidget(context(), createStore({ brandId: 1001 }));
    const root = shadow();

    widget.open({ restore: true });
    expect(root.querySelector("section")!.hidden).toBe(true);
    const socket = await socketReady();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "RecoverThread")).toBe(true));
    answer(socket, "ThreadRecovered", {
      thread: { idOnExternalPlatform: "t-9", threadName: "Kettle" },
      contact: { id: "1", status: "open" },
      messages: [],
      messagesScrollToken: "",
      contactHistory: [],
    });
    await flush();
    socket.push(agentMessage("t-9", "Are you still there?"));

    const launcher = root.querySelector<HTMLButtonElement>("button.launcher")!;
    expect(launcher.hidden).toBe(false);
    expect(launcher.getAttribute("aria-label")).toBe("We're online (1)");
    expect(root.querySelector(".badge")!.textContent).toBe("1");
    launcher.click();
    expect(root.querySelector("h2")!.textContent).toBe("Kettle");
    expect(root.querySelector(".badge")!.hasAttribute("hidden")).toBe(true);

    root.querySelector("section")!.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));

    expect(root.querySelector("section")!.hidden).toBe(true);
    expect(JSON.parse(localStorage.getItem("parley.1001.chat")!).open).toBe(false);
  });
});

describe("ChatWidget, live chat", () => {
  it("shows the queue position, the agent joining and the end of the chat", async () => {
    const ctx = context({ isLiveChat: true, multiThread: false });
    const widget = new ChatWidget(ctx, createStore({ brandId: 1001 }));
    const root = shadow();
    widget.open();
    const socket = await socketReady();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "RecoverLivechat")).toBe(true));
    const recover = socket.sent.find((f) => f.payload?.eventType === "RecoverLivechat");
    expect(recover.payload.data).toEqual({});
    socket.push({ eventId: recover.eventId, error: { errorCode: "RecoveringLivechatFailed", errorMessage: "No chat" } });
    await vi.waitFor(() => expect(root.querySelector("form.composer")!.hasAttribute("hidden")).toBe(false));
    const box = root.querySelector("textarea")!;
    box.value = "Hello";
    root.querySelector<HTMLFormElement>("form.composer")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "SendMessage")).toBe(true));
    const send = socket.sent.find((f) => f.payload?.eventType === "SendMessage");
    const threadId = send.payload.data.thread.idOnExternalPlatform;
    socket.push({ eventId: send.eventId });
    socket.push({ eventId: "c1", eventType: "CaseCreated", data: { case: { id: "7", threadIdOnExternalPlatform: threadId, status: "new" } } });
    socket.push({ eventId: "q0", eventType: "SetPositionInQueue", data: { consumerContact: { id: "8" }, positionInQueue: 5, thread: { idOnExternalPlatform: "another-thread" } } });
    socket.push({ eventId: "q1", eventType: "SetPositionInQueue", data: { consumerContact: { id: "7" }, positionInQueue: 2, thread: { idOnExternalPlatform: threadId } } });
    await flush();

    expect(root.textContent).not.toContain("number 5");

    expect(root.textContent).toContain("You are number 2 in the queue.");
    socket.push({ eventId: "a1", eventType: "CaseInboxAssigneeChanged", data: { case: { id: "7", threadIdOnExternalPlatform: threadId }, inboxAssignee: { nickname: "Alice" }, previousInboxAssignee: null } });
    expect(root.textContent).not.toContain("in the queue");
    expect(root.textContent).toContain("Alice joined the chat.");

    const end = Array.from(root.querySelectorAll("button")).find((b) => b.textContent === "End chat")!;
    expect(end.hidden).toBe(false);
    end.click();
    await flush();
    const endContact = socket.sent.find((f) => f.payload?.eventType === "EndContact");
    expect(endContact.payload.data).toEqual({ thread: { idOnExternalPlatform: threadId }, contact: { id: "7" } });
    socket.push({ eventId: endContact.eventId });
    socket.push({ eventId: "s1", eventType: "CaseStatusChanged", data: { case: { id: "7", threadIdOnExternalPlatform: threadId, status: "closed" } } });

    expect(root.textContent).toContain("The chat has ended.");
    expect(root.querySelector("form.composer")!.hasAttribute("hidden")).toBe(true);
    expect(JSON.parse(localStorage.getItem("parley.1001.chat")!)).toEqual({ open: true, engaged: false, threadId });
    expect(ctx.events.map(([name]) => name)).toContain("chat:ended");
  });
});

describe("ChatWidget, when the chat cannot start", () => {
  it("says so and tries again on the next open", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) =>
        url.includes("/oauth/token") ? jsonResponse({ errorCode: "auth_mode_not_allowed" }, 403) : jsonResponse(CHANNEL_INFO),
      ),
    );
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const widget = new ChatWidget(context(), createStore({ brandId: 1001 }));
    const root = shadow();

    widget.open();
    await vi.waitFor(() => expect(root.querySelector('[role="alert"]')).not.toBeNull());

    expect(root.querySelector('[role="alert"]')!.textContent).toBe("The chat is not available right now. Please try again later.");
    expect(FakeSocket.instances).toHaveLength(0);
    widget.minimize();
    widget.open();
    await vi.waitFor(() => expect((fetch as any).mock.calls.filter(([u]: [string]) => u.includes("/oauth/token"))).toHaveLength(2));
  });
});

describe("ChatWidget, history", () => {
  it("pages in older messages with LoadMoreMessages", async () => {
    localStorage.setItem("parley.1001.chat", JSON.stringify({ open: true, engaged: true, threadId: "t-5" }));
    const widget = new ChatWidget(context({ multiThread: false }), createStore({ brandId: 1001 }));
    const root = shadow();
    widget.open({ restore: true });
    const socket = await socketReady();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "RecoverThread")).toBe(true));
    const newest = agentMessage("t-5", "third", "m3").data.message;
    const middle = { ...agentMessage("t-5", "second", "m2").data.message, createdAtWithMilliseconds: "2026-11-21T10:00:02.000Z", createdAt: "2026-11-21T10:00:02Z" };
    answer(socket, "ThreadRecovered", {
      thread: { idOnExternalPlatform: "t-5" },
      contact: { id: "3", status: "open" },
      messages: [newest, middle],
      messagesScrollToken: "st-1",
      contactHistory: [],
    });
    await vi.waitFor(() => expect(root.querySelectorAll(".msg")).toHaveLength(2));

    const older = Array.from(root.querySelectorAll("button")).find((b) => b.textContent === "Show older messages")!;
    older.click();
    await vi.waitFor(() => expect(socket.sent.some((f) => f.payload?.eventType === "LoadMoreMessages")).toBe(true));
    const request = answer(socket, "MoreMessagesLoaded", {
      messages: [{ ...agentMessage("t-5", "first", "m1").data.message, createdAtWithMilliseconds: "2026-11-21T10:00:01.000Z" }],
      scrollToken: "",
      contactHistory: [],
    });
    await flush();

    expect(request.payload.data).toEqual({
      scrollToken: "st-1",
      oldestMessageDatetime: "2026-11-21T10:00:02.000Z",
      thread: { idOnExternalPlatform: "t-5" },
    });
    expect(Array.from(root.querySelectorAll(".msg .bubble")).map((b) => b.textContent)).toEqual(["first", "second", "third"]);
    expect(Array.from(root.querySelectorAll("button")).some((b) => b.textContent === "Show older messages")).toBe(false);
  });
});

describe("ChatWidget, a signed customer id on an anonymous channel", () => {
  it("falls back to the browser's anonymous id, never the unsigned company id", async () => {
    const bodies: any[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (!url.includes("/oauth/token")) return jsonResponse(CHANNEL_INFO);
        const body = JSON.parse(String(init!.body));
        bodies.push(body);
        return body.thirdParty
          ? jsonResponse({ errorCode: "auth_mode_not_allowed", errorMessage: "no" }, 403)
          : jsonResponse({ accessToken: "tt-2", customerIdentity: body.customerIdentity });
      }),
    );
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const store = createStore({ brandId: 1001 });
    Object.assign(store.identity(), { customerId: "crm-42", token: "h.p.s" });
    const widget = new ChatWidget(context(), store);

    widget.open();
    await socketReady();

    expect(bodies[0]).toEqual({ thirdParty: { authorization_code: "h.p.s", grant_type: "authorization_code" } });
    expect(bodies[1].customerIdentity.idOnExternalPlatform).toBe(JSON.parse(localStorage.getItem("parley.1001.customer")!));
    expect(bodies[1].customerIdentity.idOnExternalPlatform).not.toBe("crm-42");
    expect(warn).toHaveBeenCalledWith("Parley: this channel does not accept signed customer ids; the visitor chats anonymously.");
  });
});
