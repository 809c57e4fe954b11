import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError, VisitorClient, normalize, type ClientOptions } from "../../static/src/widget/protocol";
import { FakeSocket, ManualTimers, flush, jsonResponse } from "./fakes";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function client(overrides: Partial<ClientOptions> = {}, answers: Response[] = []) {
  const timers = new ManualTimers();
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const options: ClientOptions = {
    base: "https://parley.example",
    gateway: "wss://parley.example/ws/visitor",
    brandId: 1001,
    channelId: "chat_msg",
    authMode: "anonymous",
    visitorId: "visitor-1",
    visitId: "visit-1",
    customerId: "cust-1",
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    fetchImpl: (async (url: string, init: RequestInit) => {
      requests.push({ url, init });
      return answers.shift() || jsonResponse({ accessToken: "tt-1", expiresIn: 3600, customerIdentity: { idOnExternalPlatform: "cust-1" } });
    }) as unknown as typeof fetch,
    setTimer: timers.set,
    clearTimer: timers.clear,
    ...overrides,
  };
  return { client: new VisitorClient(options), timers, requests };
}

async function connected(overrides: Partial<ClientOptions> = {}) {
  const made = client(overrides);
  const done = made.client.connect();
  await flush();
  const socket = FakeSocket.instances[FakeSocket.instances.length - 1];
  socket.accept();
  await done;
  return { ...made, socket };
}

afterEach(() => FakeSocket.reset());

describe("normalize", () => {
  it("reads a postback response like the SDK: type from postback, data merged with top-level keys", () => {
    expect(normalize({ eventId: "e1", status: "success", postback: { eventType: "ConsumerAuthorized", data: { a: 1 } } })).toEqual({
      id: "e1",
      type: "ConsumerAuthorized",
      data: { status: "success", a: 1 },
    });
  });

  it("reads a push event by its eventType and data", () => {
    expect(normalize({ eventId: "p1", eventType: "MessageCreated", createdAt: "2026-01-01T00:00:00Z", data: { x: 1 } })).toEqual({
      id: "p1",
      type: "MessageCreated",
      data: { x: 1 },
      createdAt: "2026-01-01T00:00:00Z",
    });
  });

  it("treats any error key as an error, and a bare eventId as an ack", () => {
    expect(normalize({ eventId: "e2", error: { errorCode: "X" } })).toEqual({ id: "e2", type: "", data: {}, error: { errorCode: "X" } });
    expect(normalize({ eventId: "e3" })).toEqual({ id: "e3", type: "", data: {} });
    expect(normalize({ eventType: "MessageCreated", data: {} })).toEqual({ id: "", type: "", data: {} });
  });
});

describe("VisitorClient", () => {
  it("exchanges an anonymous token, then opens the socket with it in the SDK's query order", async () => {
    const { requests, socket } = await connected();

    expect(requests[0].url).toBe("https://parley.example/oauth/token?brandId=1001&channelId=chat_msg&visitorId=visitor-1");
    expect(requests[0].init.method).toBe("POST");
    expect(requests[0].init.credentials).toBe("include");
    expect(JSON.parse(String(requests[0].init.body))).toEqual({ customerIdentity: { idOnExternalPlatform: "cust-1" } });
    expect(socket.url).toBe(
      "wss://parley.example/ws/visitor?v=parley-widget&sdkPlatform=web&sdkVersion=2.2.0&brandId=1001&channelId=chat_msg&visitorId=visitor-1&transactionToken=tt-1",
    );
    expect(socket.sent[0]).toEqual({ action: "heartbeat" });
  });

  it("sends a company-managed id only as its signed JWT, in the third-party variant", async () => {
    const { requests } = await connected({ identityToken: "h.p.s", customerId: "crm-42" });

    expect(JSON.parse(String(requests[0].init.body))).toEqual({
      thirdParty: { authorization_code: "h.p.s", grant_type: "authorization_code" },
    });
  });

  it("secured cookies send an empty body and adopt the server's customer identity", async () => {
    FakeSocket.reset();
    const made = client({ authMode: "securedCookies", customerId: undefined }, [
      jsonResponse({ accessToken: "tt-9", customerIdentity: { idOnExternalPlatform: "srv-7", firstName: "Sam" } }),
    ]);
    const done = made.client.connect();
    await flush();
    FakeSocket.instances[0].accept();
    await done;

    expect(JSON.parse(String(made.requests[0].init.body))).toEqual({});
    expect(made.client.customerId).toBe("srv-7");
    expect(FakeSocket.instances[0].url).not.toContain("customerId");
  });

  it("unsecured mode puts the customer id in the query and authorizes over the socket", async () => {
    const made = client({ authMode: "none" });
    const done = made.client.connect();
    await flush();
    const socket = FakeSocket.instances[0];
    socket.accept();
    await flush();
    const authorize = socket.last();
    socket.push({
      eventId: authorize.eventId,
      status: "success",
      authorizationStatus: "authorized",
      postback: { eventType: "ConsumerAuthorized", data: { consumerIdentity: { idOnExternalPlatform: "cust-1" } } },
    });
    await done;

    expect(made.requests).toEqual([]);
    expect(socket.url).toContain("&customerId=cust-1&visitorId=visitor-1");
    expect(authorize.action).toBe("register");
    expect(authorize.payload.eventType).toBe("AuthorizeCustomer");
    expect(authorize.payload.data.authorization).toEqual({ authorizationCode: null });
  });

  it("refuses to connect when the token exchange fails", async () => {
    const made = client({}, [jsonResponse({ errorCode: "identity_refused", errorMessage: "no" }, 401)]);

    await expect(made.client.connect()).rejects.toEqual(new ProtocolError("identity_refused", "no"));
    expect(FakeSocket.instances).toEqual([]);
  });

  it("wraps each request in the SDK envelope and resolves it by eventId", async () => {
    const { client: visitor, socket } = await connected({ identity: () => ({ firstName: "Jane", lastName: "Q Public" }) });

    const answer = visitor.request("FetchThreadList", {});
    const frame = socket.last();
    socket.push({ eventId: "someone-else", postback: { eventType: "ThreadListFetched", data: { threads: ["x"] } } });
    socket.push({ eventId: frame.eventId, postback: { eventType: "ThreadListFetched", data: { threads: [] } } });

    expect(frame).toEqual({
      action: "chatWindowEvent",
      eventId: expect.stringMatching(UUID),
      payload: {
        eventType: "FetchThreadList",
        brand: { id: 1001 },
        channel: { id: "chat_msg" },
        consumerIdentity: { idOnExternalPlatform: "cust-1", firstName: "Jane", lastName: "Q Public" },
        data: {},
        destination: {},
        visitor: { id: "visitor-1" },
        visit: { id: "visit-1" },
      },
    });
    await expect(answer).resolves.toEqual({ id: frame.eventId, type: "ThreadListFetched", data: { threads: [] } });
  });

  it("rejects a request answered by an error frame", async () => {
    const { client: visitor, socket } = await connected();

    const answer = visitor.request("RecoverThread", { thread: { idOnExternalPlatform: "t-1" } });
    socket.push({ eventId: socket.last().eventId, error: { errorCode: "RecoveringThreadFailed", errorMessage: "Thread not found" } });

    await expect(answer).rejects.toEqual(new ProtocolError("RecoveringThreadFailed", "Thread not found"));
  });

  it("never hangs: an unanswered request times out", async () => {
    const { client: visitor, timers } = await connected({ requestTimeoutMs: 5000 });

    const answer = visitor.request("FetchThreadList", {});
    timers.fire(5000);

    await expect(answer).rejects.toEqual(new ProtocolError("Timeout", "FetchThreadList got no answer"));
  });

  it("dispatches pushes to listeners by type and ignores pong", async () => {
    const { client: visitor, socket } = await connected();
    const seen: string[] = [];
    visitor.on("MessageCreated", (frame) => seen.push(frame.data.message.id));
    visitor.on("*", (frame) => seen.push(`*${frame.type}`));

    socket.push("pong");
    socket.push({ eventId: "p1", eventType: "MessageCreated", data: { message: { id: "m1" } } });

    expect(seen).toEqual(["m1", "*MessageCreated"]);
  });

  it("pings every 15 s", async () => {
    const { socket, timers } = await connected();

    expect(timers.fire(15000)).toBe(1);
    expect(socket.sent.filter((frame) => frame.action === "heartbeat")).toHaveLength(2);
  });

  it("queues frames while disconnected, reconnects with a fresh token and announces it", async () => {
    const { client: visitor, socket, timers, requests } = await connected();
    const events: string[] = [];
    visitor.on("close", () => events.push("close"));
    visitor.on("reconnected", () => events.push("reconnected"));

    socket.close();
    visitor.notify("SenderTypingStarted", { thread: { idOnExternalPlatform: "t-1" } });
    timers.fire(1000);
    await flush();
    const second = FakeSocket.instances[1];
    second.accept();

    expect(requests).toHaveLength(2);
    expect(events).toEqual(["close", "reconnected"]);
    expect(second.sent.map((frame) => frame.action ?? frame.payload.eventType)).toEqual(["heartbeat", "chatWindowEvent"]);
    expect(second.sent[1].payload.eventType).toBe("SenderTypingStarted");
  });

  it("does not reconnect after close()", async () => {
    const { client: visitor, timers } = await connected();

    visitor.close();

    expect(timers.fire(1000)).toBe(0);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("reads availability, assuming online when the server cannot answer", async () => {
    const offline = client({}, [jsonResponse({ status: "offline" })]);
    const broken = client({}, [new Response("nope", { status: 500 })]);

    expect(await offline.client.availability()).toBe("offline");
    expect(offline.requests[0].url).toBe("https://parley.example/chat/1.0/brand/1001/channel/chat_msg/availability");
    expect(await broken.client.availability()).toBe("online");
  });
});
