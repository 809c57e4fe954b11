/** The visitor's journey kept in per-tenant local storage: visits, page views, timings.
 *
 * It feeds the chat manager's trigger conditions (docs/proactive.md, "Facts")
 * and is never sent as a whole: the server receives page views and events only.
 */

export interface PageEntry {
  id: string;
  url: string;
  path: string;
  title: string;
  at: number;
}

export interface Journey {
  visitor: string;
  visit: string;
  /** 1 for the visitor's first visit. */
  visitNumber: number;
  visitStartedAt: number;
  lastActiveAt: number;
  /** This visit's page views, oldest first; the last is the current page. */
  pages: PageEntry[];
}

export interface JourneyStore {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
}

export const MAX_PAGES = 50;
const KEY = "journey";

export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Loads the journey, starting a new visit after `idleMs` without activity (or for a new visitor). */
export function journeyLoad(store: JourneyStore, visitor: string, visitId: string, idleMs: number, now: number): Journey {
  const saved = store.get<Journey>(KEY);
  if (saved && saved.visitor === visitor && now - saved.lastActiveAt < idleMs && Array.isArray(saved.pages)) {
    return saved;
  }
  const journey: Journey = {
    visitor,
    visit: saved && saved.visit === visitId ? randomId() : visitId,
    visitNumber: saved && saved.visitor === visitor ? saved.visitNumber + 1 : 1,
    visitStartedAt: now,
    lastActiveAt: now,
    pages: [],
  };
  store.set(KEY, journey);
  return journey;
}

/** Adds a page view (a load or a single-page app's history change) and returns it. */
export function journeyPageView(
  store: JourneyStore,
  journey: Journey,
  page: { url: string; title: string },
  now: number,
): PageEntry {
  let path = "/";
  try {
    path = new URL(page.url).pathname;
  } catch {
    // keep "/"
  }
  const entry: PageEntry = { id: randomId(), url: page.url, path, title: page.title, at: now };
  journey.pages.push(entry);
  if (journey.pages.length > MAX_PAGES) journey.pages.splice(0, journey.pages.length - MAX_PAGES);
  journey.lastActiveAt = now;
  store.set(KEY, journey);
  return entry;
}

export function journeyTouch(store: JourneyStore, journey: Journey, now: number): void {
  journey.lastActiveAt = now;
  store.set(KEY, journey);
}
