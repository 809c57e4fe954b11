/** Test doubles for the widget's protocol client: a scripted WebSocket and timers. */

export class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;

  constructor(public url: string) {
    FakeSocket.instances.push(this);
  }

  send(frame: string): void {
    this.sent.push(JSON.parse(frame));
  }

  close(): void {
    this.readyState = 3;
    this.onclose?.();
  }

  /** The server accepts the upgrade. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.();
  }

  /** The server sends a frame (any JSON value). */
  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The last event sent, payload and all. */
  last(): any {
    return this.sent[this.sent.length - 1];
  }

  static reset(): void {
    FakeSocket.instances = [];
  }
}

export class ManualTimers {
  private next = 1;
  jobs = new Map<number, { fn: () => void; ms: number }>();

  set = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.jobs.set(id, { fn, ms });
    return id;
  };

  clear = (id: unknown): void => {
    this.jobs.delete(id as number);
  };

  /** Runs every job scheduled with exactly `ms`. */
  fire(ms: number): number {
    const due = [...this.jobs].filter(([, job]) => job.ms === ms);
    for (const [id, job] of due) {
      this.jobs.delete(id);
      job.fn();
    }
    return due.length;
  }
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
