import { describe, expect, it, vi } from "vitest";
import { renderPanel } from "../../../static/src/console/panel";
import type { FieldDefinition, ThreadDetail } from "../../../static/src/console/types";

const channel = { id: 1, channel_id: "chat_msg", name: "Acme messaging", kind: "messaging" as const };

function thread(overrides: Partial<ThreadDetail> = {}): ThreadDetail {
  return {
    id: 7,
    public_id: "t-7",
    name: "",
    channel,
    customer: {
      id: 3,
      id_on_external_platform: "cust-3",
      name: "Vera Visitor",
      first_name: "Vera",
      last_name: "Visitor",
      email: "",
      is_verified: true,
      extra: { "<b>tier</b>": "<i>gold</i>" },
      custom_fields: {},
    },
    is_locked: false,
    last_sequence: 2,
    context: {
      currentPage: { url: "javascript:alert(1)", title: "Evil page" },
      pageTrail: [{ url: "https://shop.example/a", title: "A" }],
    },
    contact: { id: 9, status: "open", queue: null, assigned_agent: null, custom_fields: { topic: "order" } },
    past_threads: [{ id: 5, name: "Earlier", channel, created_at: "2026-01-01T00:00:00Z", latest_status: "closed" }],
    ...overrides,
  };
}

const definitions: FieldDefinition[] = [
  { ident: "topic", label: "Topic", scope: "contact", field_type: "list", is_editable: true, choices: [{ value: "order", label: "My order" }] },
  { ident: "email", label: "E-mail", scope: "customer", field_type: "email", is_editable: true, choices: [] },
];

describe("renderPanel", () => {
  it("shows identity, context and past threads as text", () => {
    const host = document.createElement("aside");
    const open = vi.fn();
    renderPanel(host, thread(), definitions, true, async () => undefined, open);
    expect(host.querySelector('[data-testid="identity"]')?.textContent).toBe("Verified");
    expect(host.querySelector("b, i")).toBeNull();
    expect(host.querySelector(".pairs dt")?.textContent).toBe("<b>tier</b>");
    // A javascript: page URL is shown as text, not as a link.
    const current = [...host.querySelectorAll("section")].find((s) => s.querySelector("h3")?.textContent === "Current page")!;
    expect(current.querySelector("a")).toBeNull();
    expect(current.textContent).toContain("Evil page");
    expect(host.querySelector(".trail a")?.getAttribute("href")).toBe("https://shop.example/a");
    (host.querySelector(".past button") as HTMLButtonElement).click();
    expect(open).toHaveBeenCalledWith(5);
    expect((host.querySelector("#field-contact-topic") as HTMLSelectElement).value).toBe("order");
  });

  it("locks contact fields for agents who may not act on the contact", () => {
    const host = document.createElement("aside");
    renderPanel(host, thread(), definitions, false, async () => undefined, () => undefined);
    expect((host.querySelector("#field-contact-topic") as HTMLSelectElement).disabled).toBe(true);
    expect((host.querySelector("#field-customer-email") as HTMLInputElement).disabled).toBe(false);
  });

  it("saves a changed field and reports a refusal", async () => {
    const host = document.createElement("aside");
    const save = vi.fn().mockRejectedValueOnce(new Error("Custom field 'email' needs an e-mail address."));
    renderPanel(host, thread(), definitions, true, save, () => undefined);
    const input = host.querySelector("#field-customer-email") as HTMLInputElement;
    input.value = "nope";
    input.dispatchEvent(new Event("change"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(save).toHaveBeenCalledWith("customer", "email", "nope");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.parentElement?.querySelector(".field-status")?.textContent).toBe("Custom field 'email' needs an e-mail address.");
  });
});
