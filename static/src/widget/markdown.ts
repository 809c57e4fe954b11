/** A small Markdown subset for message texts, loaded on first use: **bold**,
 * *italic* / _italic_, `code`, [label](https://…) and bare http(s) links.
 * It builds DOM nodes from text; nothing is ever parsed as HTML, and links
 * pass safeUrl() (common/escape.ts). Anything it does not recognise stays
 * literal text. */
import { el, safeUrl } from "../common/escape";

const TOKEN =
  /\*\*([^*\n]+)\*\*|\*([^*\n]+)\*|(?<![\w])_([^_\n]+)_(?![\w])|`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

function link(href: string, label: string): Node {
  const url = safeUrl(href);
  return url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label) : document.createTextNode(label);
}

/** The nodes of one text; plain text comes back as a single text node. */
export function markdown(text: string): Node[] {
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const at = match.index ?? 0;
    if (at > last) nodes.push(document.createTextNode(text.slice(last, at)));
    const [whole, bold, star, underscore, code, label, href, bare] = match;
    if (bold) nodes.push(el("strong", {}, bold));
    else if (star || underscore) nodes.push(el("em", {}, star || underscore));
    else if (code) nodes.push(el("code", {}, code));
    else if (label) nodes.push(link(href, label));
    else if (bare) nodes.push(link(bare, bare));
    else nodes.push(document.createTextNode(whole));
    last = at + whole.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}
