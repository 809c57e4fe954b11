/** Sends analytics in small batches: POST for events, PUT for a finished page view,
 * a beacon when the page is hidden. Disables itself for this browser window (session
 * storage) when the backend cannot be reached, without a word on the console. */

export interface WireEvent {
  type: string;
  at: number;
  [key: string]: unknown;
}

export interface SenderOptions {
  /** e.g. https://parley.example/analytics/1.0/brand/1001/channel/chat_live */
  endpoint: string;
  visitor: () => string;
  visit: () => string;
  isDisabled: () => boolean;
  disable: () => void;
  now?: () => number;
  fetch?: typeof fetch;
  beacon?: (url: string, body: Blob) => boolean;
  delayMs?: number;
  maxBatch?: number;
}

/** Statuses that mean "this backend will not take analytics from here": stop trying. */
const FATAL = new Set([403, 404, 410]);

export class Sender {
  private queue: WireEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => number;
  private readonly fetcher: typeof fetch | undefined;

  constructor(private options: SenderOptions) {
    this.now = options.now || Date.now;
    this.fetcher = options.fetch || (typeof fetch === "function" ? fetch.bind(globalThis) : undefined);
  }

  add(event: WireEvent): void {
    if (this.options.isDisabled()) return;
    this.queue.push(event);
    if (this.queue.length >= (this.options.maxBatch || 20)) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.options.delayMs ?? 1000);
  }

  private body(events: WireEvent[], extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      visitor: this.options.visitor(),
      visit: this.options.visit(),
      sentAt: this.now(),
      ...extra,
      ...(events.length ? { events } : {}),
    });
  }

  private take(): WireEvent[] {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.queue.splice(0, this.options.maxBatch || 20);
  }

  private request(method: string, url: string, body: string): void {
    if (!this.fetcher || this.options.isDisabled()) return;
    this.fetcher(url, {
      method,
      body,
      keepalive: true,
      credentials: "omit",
      headers: { "Content-Type": "text/plain" },
    }).then(
      (response) => {
        if (FATAL.has(response.status) || response.status >= 500) this.options.disable();
      },
      () => this.options.disable(),
    );
  }

  /** Sends what is queued now (fetch with keepalive). */
  flush(): void {
    while (this.queue.length && !this.options.isDisabled()) {
      this.request("POST", `${this.options.endpoint}/events`, this.body(this.take()));
    }
  }

  /** PUT …/page-views/{id}: the finished page view with its time on page. */
  pageViewUpdate(id: string, view: Record<string, unknown>): void {
    if (this.options.isDisabled()) return;
    this.request("PUT", `${this.options.endpoint}/page-views/${encodeURIComponent(id)}`, this.body([], view));
  }

  /** The page is going away: hand everything to the browser's beacon queue. */
  beacon(): void {
    const send = this.options.beacon || (typeof navigator !== "undefined" && navigator.sendBeacon?.bind(navigator));
    while (this.queue.length && !this.options.isDisabled()) {
      const body = this.body(this.take());
      let queued = false;
      try {
        queued = !!send && send(`${this.options.endpoint}/events`, new Blob([body], { type: "text/plain" }));
      } catch {
        queued = false;
      }
      if (!queued) this.request("POST", `${this.options.endpoint}/events`, body);
    }
  }
}
