/** The messages of one thread, kept by sequence: a message is never shown twice,
 * and a gap (a sequence missed while the socket was down) is detected. */

import type { Message } from "./types";

export class MessageStore {
  private readonly bySequence = new Map<number, Message>();

  /** Adds messages; returns those that were new (a known sequence is replaced, not added). */
  add(messages: Message[]): Message[] {
    const added: Message[] = [];
    for (const message of messages) {
      if (!this.bySequence.has(message.sequence)) added.push(message);
      this.bySequence.set(message.sequence, message);
    }
    return added;
  }

  get size(): number {
    return this.bySequence.size;
  }

  has(sequence: number): boolean {
    return this.bySequence.has(sequence);
  }

  /** All messages, oldest first. */
  list(): Message[] {
    return [...this.bySequence.values()].sort((a, b) => a.sequence - b.sequence);
  }

  get firstSequence(): number {
    return this.bySequence.size ? Math.min(...this.bySequence.keys()) : 0;
  }

  /** The highest sequence reached without a hole from the first one loaded: resync from here. */
  get lastContiguous(): number {
    if (!this.bySequence.size) return 0;
    let sequence = this.firstSequence;
    while (this.bySequence.has(sequence + 1)) sequence += 1;
    return sequence;
  }

  /** True when ``sequence`` would leave a hole after what we hold. */
  isGap(sequence: number): boolean {
    return this.bySequence.size > 0 && sequence > this.lastContiguous + 1;
  }

  /** Marks the brand's messages up to a sequence as seen or delivered by the customer. */
  markRead(upTo: number, field: "seen_at" | "delivered_at", at: string): Message[] {
    const changed: Message[] = [];
    for (const message of this.bySequence.values()) {
      if (message.direction !== "outbound" || message.is_internal || message.sequence > upTo) continue;
      if (field === "seen_at" && !message.seen_at) {
        message.seen_at = at;
        message.delivered_at = message.delivered_at || at;
        changed.push(message);
      } else if (field === "delivered_at" && !message.delivered_at) {
        message.delivered_at = at;
        changed.push(message);
      }
    }
    return changed;
  }
}
