import type { ChannelConfig, ParleyContext, SessionStore, VisitorIdentity } from "../../../static/src/common/context";

export function fakeStore(initial: Record<string, unknown> = {}): SessionStore & { local: Map<string, unknown>; tab: Map<string, unknown> } {
  const local = new Map<string, unknown>(Object.entries(initial));
  const tab = new Map<string, unknown>();
  const identity: VisitorIdentity = { extra: {} };
  return {
    local,
    tab,
    visitorId: "visitor-0001",
    visitId: "visit-00001",
    get: <T>(key: string) => (local.has(key) ? (JSON.parse(JSON.stringify(local.get(key))) as T) : undefined),
    set: (key, value) => void local.set(key, JSON.parse(JSON.stringify(value))),
    remove: (key) => void local.delete(key),
    getSession: <T>(key: string) => tab.get(key) as T | undefined,
    setSession: (key, value) => void tab.set(key, value),
    watch: () => () => undefined,
    identity: () => identity,
  };
}

export function fakeContext(
  config: Partial<ChannelConfig> = {},
): ParleyContext & { events: [string, unknown][]; commands: Record<string, (...args: unknown[]) => unknown> } {
  const listeners: Record<string, ((detail: unknown) => void)[]> = {};
  const events: [string, unknown][] = [];
  const commands: Record<string, (...args: unknown[]) => unknown> = {};
  return {
    events,
    commands,
    config: {
      brandId: 1001,
      channelId: "chat_live",
      base: "https://parley.example",
      gateway: "wss://parley.example/ws/visitor",
      isLiveChat: true,
      multiThread: false,
      display: "floating",
      ...config,
    },
    load: () => Promise.reject(new Error("not in tests")),
    on(event, listener) {
      (listeners[event] ||= []).push(listener);
      return () => undefined;
    },
    emit(event, detail) {
      events.push([event, detail]);
      for (const listener of listeners[event] || []) listener(detail);
    },
    command(name, handler) {
      commands[name] = handler;
    },
  };
}
