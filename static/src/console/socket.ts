/** The console socket (ws/console): reconnects with back-off and resyncs by sequence.
 *
 * After every (re)connect it sends one `resync` frame with the last sequence it
 * holds for each open thread, so nothing written while it was down is lost;
 * the message store drops what arrives twice. `request` sends a frame and waits
 * for the answer carrying its `ref`. See docs/agent-protocol.md. */

import type { ClientFrame, ServerFrame } from "./types";

export type SocketState = "connecting" | "open" | "closed" | "refused";

export interface SocketHandlers {
  frame(frame: ServerFrame): void;
  state(state: SocketState): void;
  /** Thread id → last sequence held, sent as `resync` after each welcome. */
  resyncMap(): Record<string, number>;
  /** Called after a reconnect (not the first connect): refresh lists. */
  reconnected(): void;
  /** Called when reconnecting keeps failing: e.g. check whether the session ended. */
  failing(): void;
}

const REFUSED = 4403;
/** How long `request` waits for an answer before the caller tries another way. */
export const ANSWER_TIMEOUT_MS = 15000;

/** The socket is not open, closed before answering, or did not answer in time. */
export class SocketUnavailable extends Error {}

interface Waiter {
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
  timer: number;
}

export class ConsoleSocket {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private timer: number | undefined;
  private heartbeat: number | undefined;
  private readonly waiting = new Map<string, Waiter>();
  private refs = 0;

  constructor(
    private readonly url: string,
    private readonly handlers: SocketHandlers,
  ) {}

  connect(): void {
    this.stopped = false;
    this.handlers.state("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event.code));
  }

  /** Closes the socket as a network failure would: the console reconnects and resyncs. */
  drop(): void {
    this.socket?.close();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearInterval(this.heartbeat);
    this.socket?.close();
  }

  send(frame: ClientFrame): boolean {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Sends `frame` with a fresh `ref` and resolves with the server's answer to it (`sent`, `ack`,
   * `error`…). Rejects with SocketUnavailable when the socket is not open, closes before the
   * answer, or no answer comes within `timeoutMs`: whether the server acted is then unknown,
   * so only an idempotent frame should be tried again another way. */
  request(frame: ClientFrame, timeoutMs = ANSWER_TIMEOUT_MS): Promise<ServerFrame> {
    const ref = `q${++this.refs}`;
    if (!this.send({ ...frame, ref })) return Promise.reject(new SocketUnavailable("The console socket is not open."));
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.waiting.delete(ref);
        reject(new SocketUnavailable("The console socket did not answer."));
      }, timeoutMs);
      this.waiting.set(ref, { resolve, reject, timer });
    });
  }

  private abandonRequests(): void {
    for (const waiter of this.waiting.values()) {
      window.clearTimeout(waiter.timer);
      waiter.reject(new SocketUnavailable("The console socket closed."));
    }
    this.waiting.clear();
  }

  private receive(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(data)) as ServerFrame;
    } catch {
      return;
    }
    const ref = "ref" in frame ? frame.ref : undefined;
    const waiter = typeof ref === "string" ? this.waiting.get(ref) : undefined;
    if (waiter) {
      this.waiting.delete(ref as string);
      window.clearTimeout(waiter.timer);
      waiter.resolve(frame);
      return;
    }
    if (frame.type === "welcome") {
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      this.handlers.state("open");
      const threads = this.handlers.resyncMap();
      if (Object.keys(threads).length) this.send({ type: "resync", threads });
      window.clearInterval(this.heartbeat);
      this.heartbeat = window.setInterval(() => this.send({ type: "ping" }), 25000);
      if (reconnect) this.handlers.reconnected();
    }
    this.handlers.frame(frame);
  }

  private closed(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    window.clearInterval(this.heartbeat);
    this.abandonRequests();
    if (this.stopped) {
      this.handlers.state("closed");
      return;
    }
    if (code === REFUSED || (code === 1006 && !this.everOpened && this.attempts > 5)) {
      this.handlers.state("refused");
      return;
    }
    this.handlers.state("closed");
    const delay = Math.min(10000, 500 * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
    this.attempts += 1;
    if (this.attempts % 3 === 0) this.handlers.failing();
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
