/** The live chat's pre-chat form (the channel's pre-contact custom fields) and
 * the offline form. Labels are associated with inputs; errors are announced. */
import { el } from "../common/escape";
import type { CustomField } from "./events";
import type { Texts } from "./i18n";

export interface FieldDefinition {
  ident: string;
  label: string;
  scope: "customer" | "contact";
  type: "text" | "email" | "list" | "date";
  required: boolean;
  choices: Array<{ value: string; label: string }>;
}

export interface PreChatAnswer {
  customer: CustomField[];
  contact: CustomField[];
}

let counter = 0;

function field(label: string, required: boolean, input: HTMLElement, t: Texts): HTMLElement {
  const id = `parley-field-${++counter}`;
  input.id = id;
  if (required) input.setAttribute("required", "");
  const caption = el("label", { for: id }, required ? `${label} (${t.required})` : label);
  caption.append(input);
  return caption;
}

function control(definition: FieldDefinition): HTMLInputElement | HTMLSelectElement {
  if (definition.type === "list") {
    const select = el("select", { name: definition.ident }, el("option", { value: "" }, ""));
    for (const choice of definition.choices) select.append(el("option", { value: String(choice.value) }, choice.label));
    return select;
  }
  const type = definition.type === "email" ? "email" : definition.type === "date" ? "date" : "text";
  return el("input", { name: definition.ident, type, autocomplete: type === "email" ? "email" : "off" });
}

function errorLine(): HTMLElement {
  return el("p", { class: "error", role: "alert" });
}

/** Validates required fields and e-mail syntax; returns the first invalid control. */
function invalid(form: HTMLFormElement): HTMLInputElement | HTMLSelectElement | null {
  for (const input of Array.from(form.querySelectorAll("input,select,textarea")) as HTMLInputElement[]) {
    const value = input.value.trim();
    if (input.hasAttribute("required") && !value) return input;
    if (input.type === "email" && value && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return input;
  }
  return null;
}

export function preChatForm(
  definitions: FieldDefinition[],
  t: Texts,
  submit: (answer: PreChatAnswer, firstMessage: string) => void,
): HTMLFormElement {
  const form = el("form", { class: "form", novalidate: "" });
  const inputs = definitions.map((definition) => {
    const input = control(definition);
    form.append(field(definition.label, definition.required, input, t));
    return { definition, input };
  });
  const message = el("textarea", { name: "message", rows: "3" });
  form.append(field(t.message, false, message, t));
  const error = errorLine();
  form.append(error, el("button", { type: "submit" }, t.startChat));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wrong = invalid(form);
    if (wrong) {
      error.textContent = `${(wrong.labels && wrong.labels[0]?.textContent) || ""}`;
      wrong.setAttribute("aria-invalid", "true");
      wrong.focus();
      return;
    }
    const answer: PreChatAnswer = { customer: [], contact: [] };
    for (const { definition, input } of inputs) {
      const value = input.value.trim();
      if (value) answer[definition.scope === "customer" ? "customer" : "contact"].push({ ident: definition.ident, value });
    }
    submit(answer, message.value.trim());
  });
  return form;
}

export function offlineForm(
  t: Texts,
  submit: (form: { name: string; email: string; message: string }) => Promise<void>,
): HTMLFormElement {
  const form = el("form", { class: "form", novalidate: "" });
  const name = el("input", { name: "name", type: "text", autocomplete: "name" });
  const email = el("input", { name: "email", type: "email", autocomplete: "email" });
  const message = el("textarea", { name: "message", rows: "4" });
  const error = errorLine();
  const button = el("button", { type: "submit" }, t.send);
  form.append(
    el("p", {}, t.offlineIntro),
    field(t.name, true, name, t),
    field(t.email, true, email, t),
    field(t.message, true, message, t),
    error,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wrong = invalid(form);
    if (wrong) {
      error.textContent = (wrong.labels && wrong.labels[0]?.textContent) || "";
      wrong.setAttribute("aria-invalid", "true");
      wrong.focus();
      return;
    }
    button.disabled = true;
    submit({ name: name.value.trim(), email: email.value.trim(), message: message.value.trim() }).then(
      () => form.replaceChildren(el("p", { role: "status" }, t.offlineSent)),
      () => {
        button.disabled = false;
        error.textContent = t.failed;
      },
    );
  });
  return form;
}
