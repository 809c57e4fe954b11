/** Per-tenant browser storage (docs/frontend.md, "Session storage").
 *
 * Keys are namespaced `parley.<brandId>.<key>` so that two tenants embedded on
 * one site never read each other's data. Values are JSON. Storage may be
 * unavailable (privacy modes, sandboxed frames): then values live in memory for
 * this page only, and nothing throws. */
import type { SessionStore, VisitorIdentity } from "../common/context";

/** A visit ends after this much inactivity, as on the server. */
export const VISIT_IDLE_MS = 30 * 60 * 1000;

/** A UUIDv4; crypto.randomUUID exists only in secure contexts, so fall back. */
export function randomId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte: number) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function usable(kind: "localStorage" | "sessionStorage"): Storage | null {
  try {
    const storage = window[kind];
    storage.setItem("parley.probe", "1");
    storage.removeItem("parley.probe");
    return storage;
  } catch {
    return null;
  }
}

class Area {
  private memory = new Map<string, string>();
  constructor(
    private storage: Storage | null,
    private prefix: string,
  ) {}

  read<T>(key: string): T | undefined {
    let raw: string | null | undefined;
    try {
      raw = this.storage ? this.storage.getItem(this.prefix + key) : this.memory.get(key);
    } catch {
      raw = this.memory.get(key);
    }
    if (raw == null) return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return undefined;
    }
  }

  write(key: string, value: unknown): void {
    const raw = JSON.stringify(value);
    this.memory.set(key, raw);
    try {
      this.storage?.setItem(this.prefix + key, raw);
    } catch {
      // Quota exceeded or storage revoked: the in-memory copy still serves this page.
    }
  }

  remove(key: string): void {
    this.memory.delete(key);
    try {
      this.storage?.removeItem(this.prefix + key);
    } catch {
      // ignored: see write()
    }
  }
}

export interface StoreOptions {
  brandId: number;
  now?: () => number;
  local?: Storage | null;
  session?: Storage | null;
}

export function createStore(options: StoreOptions): SessionStore {
  const prefix = `parley.${options.brandId}.`;
  const now = options.now || Date.now;
  const local = new Area(options.local === undefined ? usable("localStorage") : options.local, prefix);
  const tab = new Area(options.session === undefined ? usable("sessionStorage") : options.session, prefix);

  let visitorId = local.read<string>("visitor");
  if (!visitorId) {
    visitorId = randomId();
    local.write("visitor", visitorId);
  }
  const visit = local.read<{ id: string; at: number }>("visit");
  const visitId = visit && now() - visit.at < VISIT_IDLE_MS ? visit.id : randomId();
  local.write("visit", { id: visitId, at: now() });

  const identity: VisitorIdentity = { extra: {} };

  return {
    visitorId,
    visitId,
    get: (key) => local.read(key),
    set: (key, value) => local.write(key, value),
    remove: (key) => local.remove(key),
    getSession: (key) => tab.read(key),
    setSession: (key, value) => tab.write(key, value),
    watch(key, listener) {
      const onStorage = (event: StorageEvent) => {
        if (event.key !== prefix + key) return;
        try {
          listener(event.newValue == null ? undefined : JSON.parse(event.newValue));
        } catch {
          // A foreign writer left non-JSON: not ours to interpret.
        }
      };
      window.addEventListener("storage", onStorage);
      return () => window.removeEventListener("storage", onStorage);
    },
    identity: () => identity,
  };
}

const IDENTITY_KEYS = ["name", "email", "avatar", "customerId", "token", "authorizationCode"] as const;

/** Applies parley('identify', {...}); returns false (changing nothing) on bad input. */
export function identify(identity: VisitorIdentity, values: unknown): boolean {
  if (!values || typeof values !== "object") return false;
  const input = values as Record<string, unknown>;
  if ((input.customerId != null) !== (input.token != null)) {
    console.warn("Parley: a customerId needs a server-signed token (JWT); both were not given.");
    return false;
  }
  for (const key of IDENTITY_KEYS) {
    const value = input[key];
    if (typeof value === "string" && value) identity[key] = value.slice(0, key === "token" || key === "authorizationCode" ? 4096 : 500);
  }
  if (input.extra && typeof input.extra === "object") {
    for (const [name, value] of Object.entries(input.extra as Record<string, unknown>)) setExtra(identity, name, value);
  }
  return true;
}

/** Applies parley('set', name, value): an extra value, kept as a string. */
export function setExtra(identity: VisitorIdentity, name: unknown, value: unknown): boolean {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) return false;
  if (value == null) {
    delete identity.extra[name];
    return true;
  }
  identity.extra[name] = String(value).slice(0, 500);
  return true;
}
