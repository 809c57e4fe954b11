/** The continuation rule shared by the chat manager and the chat client (seed 003,
 * "Continuation"): an engaged chat keeps appearing while the visitor browses, until
 * the visit idle duration (24 hours) passes without the visitor's activity. The chat
 * manager records that activity as "cm.engagement" {at} in session storage. */
import type { SessionStore } from "./context";

export const ENGAGEMENT_IDLE_MS = 24 * 3600 * 1000;

/** True when the last recorded activity of an engaged visitor is 24 hours old or more. */
export function engagementExpired(store: Pick<SessionStore, "get">, now: number = Date.now()): boolean {
  const last = store.get<{ at: number }>("cm.engagement");
  return !!last && now - last.at >= ENGAGEMENT_IDLE_MS;
}
