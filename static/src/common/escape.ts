/** Text-only rendering helpers shared by every Parley front-end module.
 *
 * Nothing a visitor, agent or integration wrote is ever inserted as HTML: it
 * becomes a text node. */

export function textNode(value: unknown): Text {
  return document.createTextNode(value == null ? "" : String(value));
}

/** Creates an element with text content only (never innerHTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) element.append(typeof child === "string" ? textNode(child) : child);
  return element;
}

/** An http(s) URL, or null: keeps javascript: and data: URLs out of links. */
export function safeUrl(value: unknown): string | null {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value, "https://invalid.invalid");
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}
