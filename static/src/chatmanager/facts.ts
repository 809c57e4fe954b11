/** The facts a trigger's conditions are evaluated against (docs/proactive.md, "Facts"). */
import type { Journey } from "../analytics/journey";
import type { VisitorIdentity } from "../common/context";
import type { Facts } from "./rules";

export interface VariableConfig {
  name: string;
  label: string;
  type: "string" | "number" | "boolean";
  source: "page_api" | "css_text" | "css_attribute" | "query_parameter" | "cookie" | "data_layer";
  key: string;
  attribute?: string;
  showToAgents?: boolean;
}

type Raw = string | number | boolean | null | undefined;

function fromDataLayer(win: Window, key: string): Raw {
  const layer = (win as unknown as { dataLayer?: unknown }).dataLayer;
  if (!Array.isArray(layer)) return undefined;
  const path = key.split(".");
  for (let index = layer.length - 1; index >= 0; index--) {
    let value: unknown = layer[index];
    for (const part of path) {
      value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
    }
    if (value !== undefined) return typeof value === "object" ? undefined : (value as Raw);
  }
  return undefined;
}

function cookie(doc: Document, name: string): string | undefined {
  for (const part of doc.cookie ? doc.cookie.split(";") : []) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return part.slice(at + 1).trim();
      }
    }
  }
  return undefined;
}

/** Reads one custom variable from its source on the page; undefined when it is not there. */
export function variableRead(variable: VariableConfig, win: Window, identity: VisitorIdentity | undefined): Raw {
  try {
    switch (variable.source) {
      case "page_api":
        return identity ? identity.extra[variable.key] : undefined;
      case "css_text":
        return win.document.querySelector(variable.key)?.textContent?.trim();
      case "css_attribute":
        return win.document.querySelector(variable.key)?.getAttribute(variable.attribute || "") ?? undefined;
      case "query_parameter":
        return new URL(win.location.href).searchParams.get(variable.key) ?? undefined;
      case "cookie":
        return cookie(win.document, variable.key);
      case "data_layer":
        return fromDataLayer(win, variable.key);
    }
  } catch {
    return undefined; // an invalid selector or URL reads as "not set"
  }
  return undefined;
}

/** Types a raw value as the variable's type; what does not parse is null ("not set"). */
export function variableCoerce(type: VariableConfig["type"], raw: Raw): string | number | boolean | null {
  if (raw === undefined || raw === null) return null;
  if (type === "number") {
    if (typeof raw === "number") return Number.isFinite(raw) ? raw : null;
    const text = String(raw).replace(/[^0-9.,-]/g, "").replace(",", ".");
    const number = text ? Number(text) : NaN;
    return Number.isFinite(number) ? number : null;
  }
  if (type === "boolean") {
    if (typeof raw === "boolean") return raw;
    const text = String(raw).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return true;
    if (["false", "0", "no", "off", ""].includes(text)) return false;
    return null;
  }
  return String(raw).slice(0, 500);
}

export function variablesRead(
  variables: VariableConfig[],
  win: Window,
  identity: VisitorIdentity | undefined,
): Record<string, string | number | boolean | null> {
  const values: Record<string, string | number | boolean | null> = {};
  for (const variable of variables) values[variable.name] = variableCoerce(variable.type, variableRead(variable, win, identity));
  return values;
}

const weekdays: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Day of week (1 = Monday) and minute of day in the tenant's time zone. */
export function clock(now: number, timeZone: string): { dayOfWeek: number; minuteOfDay: number } {
  let format = formatters.get(timeZone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    } catch {
      format = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(now))) parts[part.type] = part.value;
  return { dayOfWeek: weekdays[parts.weekday] || 1, minuteOfDay: (Number(parts.hour) % 24) * 60 + Number(parts.minute) };
}

export interface FactsInput {
  journey: Journey;
  pageStartedAt: number;
  now: number;
  timeZone: string;
  identity?: VisitorIdentity;
  variables: Record<string, string | number | boolean | null>;
  win: Window;
}

export function factsBuild(input: FactsInput): Facts {
  const { journey, now } = input;
  const pages = journey.pages;
  const current = pages[pages.length - 1];
  const path = current ? current.path : input.win.location.pathname;
  const time = clock(now, input.timeZone);
  const identity = input.identity;
  const facts: Facts = {
    "page.url": input.win.location.href,
    "page.path": input.win.location.pathname,
    "page.title": input.win.document.title,
    "page.referrer": input.win.document.referrer,
    "page.viewCount": pages.filter((page) => page.path === path).length,
    "page.timeOnPage": Math.max(0, (now - input.pageStartedAt) / 1000),
    "visit.pageViews": pages.length,
    "visit.count": journey.visitNumber,
    "visit.duration": Math.max(0, (now - journey.visitStartedAt) / 1000),
    "visit.pagesSeen": pages.slice(0, -1).map((page) => page.path),
    "time.dayOfWeek": time.dayOfWeek,
    "time.minuteOfDay": time.minuteOfDay,
    "identity.present": !!identity && !!(identity.name || identity.email || identity.customerId),
    "identity.signed": !!identity && !!identity.customerId && !!identity.token,
  };
  for (const [name, value] of Object.entries(input.variables)) facts[`var.${name}`] = value;
  return facts;
}
