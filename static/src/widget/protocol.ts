/** A small typed client of Parley's visitor protocol: the wire protocol of the
 * CXone Chat Web SDK 2.2.0 (docs/visitor-protocol.md, docs/frontend.md).
 *
 * Frames out: `{"action", "eventId", "payload": {eventType, brand, channel,
 * consumerIdentity, data, destination, visitor, visit}}` and the heartbeat
 * `{"action":"heartbeat"}`. Frames in: postback responses, push events and error
 * responses, correlated by `eventId`, plus the heartbeat answer `"pong"`.
 * Unlike the SDK, every request times out, and the client reconnects and tells
 * its owner ("reconnected") so that it resynchronises the open thread. */

export type AuthMode = "none" | "anonymous" | "securedCookies" | "thirdParty";

export interface Identity {
  firstName?: string;
  lastName?: string;
  image?: string;
}

export interface ClientOptions {
  base: string;
  gateway: string;
  brandId: number;
  channelId: string;
  authMode: AuthMode;
  visitorId: string;
  visitId: string;
  /** Anonymous and unsecured modes: the browser's customer id (or a company-managed one). */
  customerId?: string;
  /** A server-signed JWT proving a company-managed customer id (sent as the
   * third-party authorization code, or the AuthorizeCustomer code when unsecured). */
  identityToken?: string;
  /** Third-party mode: the authorization code of the brand's identity provider. */
  authorizationCode?: string;
  identity?: () => Identity;
  requestTimeoutMs?: number;
  heartbeatMs?: number;
  WebSocketImpl?: typeof WebSocket;
  fetchImpl?: typeof fetch;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
}

/** A frame after normalisation (the rules of the SDK's normaliser). */
export interface Frame {
  id: string;
  type: string;
  data: Record<string, any>;
  createdAt?: string;
}

export class ProtocolError extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export const PROTOCOL_VERSION = "2.2.0";

/** A lowercase UUIDv4 (crypto.randomUUID exists only in secure contexts). */
export function newEventId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte: number) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Normalises a server frame like the SDK does (push, postback, ack or error). */
export function normalize(raw: any): Frame & { error?: { errorCode?: string; errorMessage?: string } } {
  if (!raw || typeof raw !== "object" || !("eventId" in raw)) return { id: "", type: "", data: {} };
  const id = String(raw.eventId);
  if ("error" in raw) return { id, type: "", data: {}, error: raw.error || {} };
  if ("data" in raw) return { id, type: String(raw.eventType || ""), data: raw.data || {}, createdAt: raw.createdAt };
  if (raw.postback && typeof raw.postback === "object" && Object.keys(raw.postback).length) {
    const { eventId: _id, postback, ...rest } = raw;
    return { id, type: String(postback.eventType || ""), data: { ...rest, ...(postback.data || {}) } };
  }
  return { id, type: String(raw.eventType || ""), data: {} };
}

type Listener = (frame: Frame) => void;
type Pending = { resolve: (frame: Frame) => void; reject: (error: Error) => void; timer: unknown };

export class VisitorClient {
  customerId: string | undefined;
  identity: Identity = {};
  private socket: WebSocket | null = null;
  private pending = new Map<string, Pending>();
  private outbox: string[] = [];
  private listeners = new Map<string, Listener[]>();
  private opened = false;
  private closedByUs = false;
  private retries = 0;
  private heartbeat: unknown;
  private token: string | undefined;
  /** Third-party sessions: the access token that rides on SendMessage, and its refresh token. */
  thirdPartyToken: string | undefined;
  private refreshToken: string | undefined;
  private refreshTimer: unknown;

  constructor(private options: ClientOptions) {
    this.customerId = options.customerId;
  }

  private get timers() {
    return {
      set: this.options.setTimer || ((fn: () => void, ms: number) => setTimeout(fn, ms)),
      clear: this.options.clearTimer || ((id: unknown) => clearTimeout(id as number)),
    };
  }

  /** Listens to frames by type ("*" for every frame; "open", "close", "reconnected" for the socket). */
  on(type: string, listener: Listener): () => void {
    const list = this.listeners.get(type) || [];
    list.push(listener);
    this.listeners.set(type, list);
    return () => this.listeners.set(type, (this.listeners.get(type) || []).filter((other) => other !== listener));
  }

  private dispatch(type: string, frame: Frame): void {
    for (const listener of [...(this.listeners.get(type) || []), ...(this.listeners.get("*") || [])]) {
      try {
        listener(frame);
      } catch (error) {
        console.error(error);
      }
    }
  }

  /** GET …/availability: "online" or "offline" ("online" when it cannot tell). */
  async availability(): Promise<"online" | "offline"> {
    try {
      const response = await this.fetch(
        `${this.options.base}/chat/1.0/brand/${this.options.brandId}/channel/${encodeURIComponent(
          this.options.channelId,
        )}/availability`,
        { headers: { Accept: "application/json" } },
      );
      const body = await response.json();
      return body && body.status === "offline" ? "offline" : "online";
    } catch {
      return "online";
    }
  }

  private fetch(url: string, init: RequestInit): Promise<Response> {
    return (this.options.fetchImpl || fetch)(url, init);
  }

  /** POST /oauth/token: the secured-session token exchange (anonymous, cookies, third party). */
  private async exchangeToken(): Promise<string> {
    const o = this.options;
    const body: Record<string, unknown> = {};
    // A company-managed id travels as its signed JWT in the third-party variant.
    const code = o.identityToken || (o.authMode === "thirdParty" ? o.authorizationCode : undefined);
    if (code) body.thirdParty = { authorization_code: code, grant_type: "authorization_code" };
    else if (o.authMode === "anonymous") body.customerIdentity = this.consumerIdentity();
    const query = `brandId=${o.brandId}&channelId=${encodeURIComponent(o.channelId)}&visitorId=${encodeURIComponent(
      o.visitorId,
    )}`;
    const response = await this.fetch(`${o.base}/oauth/token?${query}`, {
      method: "POST",
      credentials: "include",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.accessToken) {
      throw new ProtocolError(answer.errorCode || "TokenExchangeFailed", answer.errorMessage || "No token");
    }
    this.keepThirdParty(answer.thirdParty);
    const identity = answer.customerIdentity || {};
    if (identity.idOnExternalPlatform) this.customerId = String(identity.idOnExternalPlatform);
    this.identity = { ...this.identity, firstName: identity.firstName, lastName: identity.lastName };
    return String(answer.accessToken);
  }

  private keepThirdParty(tokens: any): void {
    if (!tokens || !tokens.access_token) return;
    this.thirdPartyToken = String(tokens.access_token);
    if (tokens.refresh_token) this.refreshToken = String(tokens.refresh_token);
    const seconds = Math.max(20, Math.round(0.9 * (Number(tokens.expires_in) || 3600)));
    this.timers.clear(this.refreshTimer);
    this.refreshTimer = this.timers.set(() => this.refreshThirdParty(), seconds * 1000);
  }

  /** Renews the third-party access token before it expires (same URL, refresh_token grant). */
  private async refreshThirdParty(): Promise<void> {
    const o = this.options;
    if (!this.refreshToken || this.closedByUs) return;
    const query = `brandId=${o.brandId}&channelId=${encodeURIComponent(o.channelId)}&visitorId=${encodeURIComponent(
      o.visitorId,
    )}`;
    try {
      const response = await this.fetch(`${o.base}/oauth/token?${query}`, {
        method: "POST",
        credentials: "include",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ thirdParty: { grant_type: "refresh_token", refresh_token: this.refreshToken } }),
      });
      const answer = await response.json();
      if (response.ok) this.keepThirdParty(answer.thirdParty);
    } catch (error) {
      console.error("Parley:", error);
    }
  }

  private socketUrl(): string {
    const o = this.options;
    const query = [
      ["v", "parley-widget"],
      ["sdkPlatform", "web"],
      ["sdkVersion", PROTOCOL_VERSION],
      ["brandId", String(o.brandId)],
      ["channelId", o.channelId],
      ...(o.authMode === "none" ? [["customerId", this.customerId || ""]] : []),
      ["visitorId", o.visitorId],
      ...(this.token ? [["transactionToken", this.token]] : []),
    ];
    return `${o.gateway}?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`;
  }

  /** Authenticates and opens the socket; resolves once the socket is open and usable. */
  async connect(): Promise<void> {
    this.closedByUs = false;
    if (this.options.authMode !== "none") this.token = await this.exchangeToken();
    await this.open();
    if (this.options.authMode === "none") {
      const answer = await this.request(
        "AuthorizeCustomer",
        {
          authorization: { authorizationCode: this.options.identityToken || null },
          disableChannelInfo: true,
          sdkVersion: PROTOCOL_VERSION,
          sdkPlatform: "web",
        },
        "register",
      );
      const id = answer.data.consumerIdentity?.idOnExternalPlatform;
      if (answer.type !== "ConsumerAuthorized" || !id) throw new ProtocolError("ConsumerAuthorizationFailed", "Not authorized");
      this.customerId = String(id);
    }
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const Impl = this.options.WebSocketImpl || WebSocket;
      const socket = new Impl(this.socketUrl());
      this.socket = socket;
      let wasOpen = false;
      socket.onopen = () => {
        wasOpen = true;
        const reconnect = this.opened;
        this.opened = true;
        this.retries = 0;
        this.send(JSON.stringify({ action: "heartbeat" }));
        this.startHeartbeat();
        for (const frame of this.outbox.splice(0)) socket.send(frame);
        resolve();
        this.dispatch("open", { id: "", type: "open", data: {} });
        if (reconnect) this.dispatch("reconnected", { id: "", type: "reconnected", data: {} });
      };
      socket.onmessage = (event) => this.receive(String(event.data));
      socket.onclose = () => {
        this.timers.clear(this.heartbeat);
        if (this.socket === socket) this.socket = null;
        if (!wasOpen) {
          reject(new ProtocolError("ConnectionRefused", "The chat server refused the connection."));
          if (!this.opened) return;
        }
        this.dispatch("close", { id: "", type: "close", data: {} });
        if (!this.closedByUs) this.scheduleReconnect();
      };
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(1000 * 2 ** this.retries, 15000);
    this.retries += 1;
    this.timers.set(() => {
      if (this.closedByUs) return;
      (this.options.authMode === "none" ? Promise.resolve() : this.exchangeToken().then((token) => void (this.token = token)))
        .then(() => this.open())
        .then(() =>
          this.options.authMode === "none"
            ? this.request(
                "AuthorizeCustomer",
                { authorization: { authorizationCode: this.options.identityToken || null } },
                "register",
              )
            : undefined,
        )
        .catch(() => this.scheduleReconnect());
    }, delay);
  }

  private startHeartbeat(): void {
    this.timers.clear(this.heartbeat);
    this.heartbeat = this.timers.set(() => {
      this.send(JSON.stringify({ action: "heartbeat" }));
      this.startHeartbeat();
    }, this.options.heartbeatMs || 15000);
  }

  private send(frame: string): void {
    if (this.socket && this.socket.readyState === 1) this.socket.send(frame);
    else this.outbox.push(frame);
  }

  private receive(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    if (raw === "pong") return;
    const frame = normalize(raw);
    const waiting = this.pending.get(frame.id);
    if (waiting) {
      this.pending.delete(frame.id);
      this.timers.clear(waiting.timer);
      if (frame.error) {
        waiting.reject(new ProtocolError(frame.error.errorCode || "Error", frame.error.errorMessage || "Request failed"));
      } else waiting.resolve(frame);
    }
    if (frame.type) this.dispatch(frame.type, frame);
  }

  /** `{idOnExternalPlatform, firstName?, lastName?, image?}`: names only when known. */
  private consumerIdentity(): Record<string, string> {
    const name = (this.options.identity && this.options.identity()) || {};
    const identity: Record<string, string> = { idOnExternalPlatform: this.customerId || "" };
    for (const key of ["firstName", "lastName", "image"] as const) {
      const value = name[key] || this.identity[key];
      if (value) identity[key] = value;
    }
    return identity;
  }

  private payload(eventType: string, data: Record<string, unknown>) {
    const identity = this.consumerIdentity();
    return {
      eventType,
      brand: { id: this.options.brandId },
      channel: { id: this.options.channelId },
      consumerIdentity: identity,
      data,
      destination: {},
      visitor: { id: this.options.visitorId },
      visit: { id: this.options.visitId },
    };
  }

  /** Sends an event and resolves with the frame answering it (rejects on an error frame or timeout). */
  request(eventType: string, data: Record<string, unknown> = {}, action = "chatWindowEvent"): Promise<Frame> {
    const eventId = newEventId();
    return new Promise((resolve, reject) => {
      const timer = this.timers.set(() => {
        this.pending.delete(eventId);
        reject(new ProtocolError("Timeout", `${eventType} got no answer`));
      }, this.options.requestTimeoutMs || 20000);
      this.pending.set(eventId, { resolve, reject, timer });
      this.send(JSON.stringify({ action, eventId, payload: this.payload(eventType, data) }));
    });
  }

  /** Sends an event whose answer nobody waits for (typing). */
  notify(eventType: string, data: Record<string, unknown>): void {
    this.send(JSON.stringify({ action: "chatWindowEvent", eventId: newEventId(), payload: this.payload(eventType, data) }));
  }

  close(): void {
    this.closedByUs = true;
    this.timers.clear(this.heartbeat);
    this.timers.clear(this.refreshTimer);
    this.socket?.close(1000);
    this.socket = null;
  }
}
