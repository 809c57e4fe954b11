/** The visitor context panel: identity, page and trail, custom variables,
 * editable custom fields and past threads. Everything is rendered as text. */

import { el, safeUrl } from "../common/escape";
import type { FieldDefinition, ThreadDetail } from "./types";

type Save = (scope: "customer" | "contact", ident: string, value: string) => Promise<void>;

function section(title: string, ...children: Array<Node | string>): HTMLElement {
  return el("section", { class: "panel-section" }, el("h3", {}, title), ...children);
}

function pairs(values: Record<string, unknown>): HTMLElement {
  const list = el("dl", { class: "pairs" });
  for (const [key, value] of Object.entries(values)) {
    list.append(el("dt", {}, key), el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)));
  }
  return list;
}

/** Custom variables as a mapping, from either {name: value} or [{identifier|name, value}]. */
export function customVariables(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    const result: Record<string, unknown> = {};
    for (const item of value) {
      if (!item || typeof item !== "object") continue;
      const record = item as Record<string, unknown>;
      const key = record.identifier ?? record.name;
      if (typeof key === "string" && key) result[key] = record.value;
    }
    return result;
  }
  return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

function page(value: unknown): HTMLElement | string {
  if (!value || typeof value !== "object") return "";
  const record = value as Record<string, unknown>;
  const url = safeUrl(record.url);
  const title = String(record.title || record.url || "");
  return url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, title) : el("span", {}, title);
}

function field(definition: FieldDefinition, value: string, editable: boolean, save: Save): HTMLElement {
  const id = `field-${definition.scope}-${definition.ident}`;
  let input: HTMLInputElement | HTMLSelectElement;
  if (definition.field_type === "list") {
    input = el("select", { id });
    input.append(el("option", { value: "" }, "—"));
    for (const choice of definition.choices) input.append(el("option", { value: choice.value }, choice.label || choice.value));
  } else {
    input = el("input", { id, type: definition.field_type === "email" ? "email" : definition.field_type === "date" ? "date" : "text" });
  }
  input.value = value || "";
  input.disabled = !editable || !definition.is_editable;
  const status = el("span", { class: "field-status", "aria-live": "polite" });
  let saved = input.value;
  const commit = async () => {
    if (input.value === saved) return;
    status.textContent = "Saving…";
    try {
      await save(definition.scope, definition.ident, input.value);
      saved = input.value;
      status.textContent = "Saved";
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : "Not saved";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
  };
  input.addEventListener("change", commit);
  input.addEventListener("keydown", (event) => {
    if ((event as KeyboardEvent).key === "Enter") {
      event.preventDefault();
      void commit();
    }
  });
  return el("div", { class: "field" }, el("label", { for: id }, definition.label), input, status);
}

export function renderPanel(
  host: HTMLElement,
  thread: ThreadDetail,
  definitions: FieldDefinition[],
  editable: boolean,
  save: Save,
  open: (threadId: number) => void,
): void {
  host.replaceChildren();
  const customer = thread.customer;
  const identity = el(
    "div",
    { class: "identity" },
    el("p", { class: "name" }, customer.name || "Anonymous visitor"),
    el(
      "span",
      { class: customer.is_verified ? "badge verified" : "badge anonymous", "data-testid": "identity" },
      customer.is_verified ? "Verified" : "Anonymous",
    ),
    el("p", { class: "muted" }, customer.id_on_external_platform),
  );
  if (customer.email) identity.append(el("p", {}, customer.email));
  host.append(section("Visitor", identity));
  if (Object.keys(customer.extra || {}).length) host.append(section("Extra values", pairs(customer.extra)));

  const context = thread.context || {};
  const current = page(context.currentPage);
  if (current) host.append(section("Current page", current));
  const trail = Array.isArray(context.pageTrail) ? context.pageTrail : Array.isArray(context.pageViews) ? context.pageViews : [];
  if (trail.length) {
    const list = el("ol", { class: "trail" });
    for (const visited of trail.slice(-10).reverse()) list.append(el("li", {}, page(visited)));
    host.append(section("Page trail", list));
  }
  const variables = customVariables(context.customVariables);
  if (Object.keys(variables).length) host.append(section("Custom variables", pairs(variables)));

  const contactFields = definitions.filter((d) => d.scope === "contact");
  if (thread.contact && contactFields.length) {
    const values = thread.contact.custom_fields || {};
    host.append(section("Contact fields", ...contactFields.map((d) => field(d, values[d.ident] || "", editable, save))));
  }
  const customerFields = definitions.filter((d) => d.scope === "customer");
  if (customerFields.length) {
    const values = customer.custom_fields || {};
    host.append(section("Customer fields", ...customerFields.map((d) => field(d, values[d.ident] || "", true, save))));
  }

  const past = el("ul", { class: "past" });
  for (const other of thread.past_threads) {
    const button = el("button", { type: "button", class: "link" }, other.name || `Thread ${other.id}`);
    button.addEventListener("click", () => open(other.id));
    past.append(el("li", {}, button, el("small", {}, ` ${other.channel.name} · ${other.latest_status || "no contact"}`)));
  }
  host.append(section("Past threads", thread.past_threads.length ? past : el("p", { class: "muted" }, "None")));
}
