import { describe, expect, it, vi } from "vitest";
import { DEFAULTS } from "../../static/src/widget/i18n";
import { offlineForm, preChatForm, type FieldDefinition } from "../../static/src/widget/forms";

const FIELDS: FieldDefinition[] = [
  { ident: "topic", label: "Topic", scope: "contact", type: "list", required: true, choices: [{ value: "order", label: "My order" }] },
  { ident: "email", label: "E-mail", scope: "customer", type: "email", required: false, choices: [] },
];

function field(form: HTMLFormElement, name: string) {
  return form.querySelector(`[name="${name}"]`) as HTMLInputElement;
}

describe("pre-chat form", () => {
  it("labels every field and marks the required ones", () => {
    const form = preChatForm(FIELDS, DEFAULTS, () => undefined);

    expect(Array.from(form.querySelectorAll("label")).map((label) => label.firstChild!.textContent)).toEqual([
      "Topic (required)",
      "E-mail",
      "Message",
    ]);
    expect(field(form, "topic").hasAttribute("required")).toBe(true);
    expect(field(form, "email").type).toBe("email");
    expect(Array.from(field(form, "topic").querySelectorAll("option")).map((o) => o.value)).toEqual(["", "order"]);
  });

  it("refuses a missing required field or a bad e-mail, and focuses it", () => {
    const submit = vi.fn();
    const form = preChatForm(FIELDS, DEFAULTS, submit);
    document.body.append(form);

    form.dispatchEvent(new Event("submit", { cancelable: true }));
    expect(submit).not.toHaveBeenCalled();
    expect(field(form, "topic").getAttribute("aria-invalid")).toBe("true");
    expect(form.querySelector('[role="alert"]')!.textContent).toContain("Topic");

    field(form, "topic").value = "order";
    field(form, "email").value = "not-an-address";
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    expect(submit).not.toHaveBeenCalled();
    expect(document.activeElement).toBe(field(form, "email"));
    form.remove();
  });

  it("answers customer and contact fields apart, with the first message", () => {
    const submit = vi.fn();
    const form = preChatForm(FIELDS, DEFAULTS, submit);
    field(form, "topic").value = "order";
    field(form, "email").value = "jane@example.com";
    (form.querySelector("textarea") as HTMLTextAreaElement).value = "  Where is my parcel?  ";

    form.dispatchEvent(new Event("submit", { cancelable: true }));

    expect(submit).toHaveBeenCalledWith(
      { customer: [{ ident: "email", value: "jane@example.com" }], contact: [{ ident: "topic", value: "order" }] },
      "Where is my parcel?",
    );
  });
});

describe("offline form", () => {
  it("sends name, e-mail and message, then thanks the visitor", async () => {
    const submit = vi.fn(async () => undefined);
    const form = offlineForm(DEFAULTS, submit);
    field(form, "name").value = "John Ronald Tolkien";
    field(form, "email").value = "jrr@example.com";
    (form.querySelector("textarea") as HTMLTextAreaElement).value = "Call me";

    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await Promise.resolve();
    await Promise.resolve();

    expect(submit).toHaveBeenCalledWith({ name: "John Ronald Tolkien", email: "jrr@example.com", message: "Call me" });
    expect(form.querySelector('[role="status"]')!.textContent).toBe("Thank you! We will get back to you.");
  });
});
