import { describe, expect, it } from "vitest";
import { markdown } from "../../static/src/widget/markdown";
import { fromWire } from "../../static/src/widget/conversation";
import { DEFAULTS } from "../../static/src/widget/i18n";
import { content } from "../../static/src/widget/render";

function html(text: string): string {
  const div = document.createElement("div");
  div.append(...markdown(text));
  return div.innerHTML;
}

describe("markdown subset", () => {
  it("formats bold, italic, code and links as elements", () => {
    expect(html("**Free** delivery on *all* `TEA-42` orders, see [terms](https://shop.example/terms).")).toBe(
      '<strong>Free</strong> delivery on <em>all</em> <code>TEA-42</code> orders, see ' +
        '<a href="https://shop.example/terms" target="_blank" rel="noopener noreferrer">terms</a>.',
    );
  });

  it("links bare URLs without their trailing punctuation", () => {
    expect(html("Track it at https://track.example/p/1?x=2.")).toBe(
      'Track it at <a href="https://track.example/p/1?x=2" target="_blank" rel="noopener noreferrer">https://track.example/p/1?x=2</a>.',
    );
  });

  it("never turns markup into HTML and drops unsafe link targets", () => {
    expect(html('<img src=x onerror="alert(1)"> **<b>x</b>**')).toBe(
      '&lt;img src=x onerror="alert(1)"&gt; <strong>&lt;b&gt;x&lt;/b&gt;</strong>',
    );
    expect(html("[click](javascript:void(0))")).toBe("click)");
    expect(html("[click](data:text/html,x)")).toBe("click");
  });

  it("leaves snake_case words and lone stars alone", () => {
    expect(html("order_number and 2 * 3")).toBe("order_number and 2 * 3");
  });

  it("is loaded on use: a message shows as text at once, formatted once the chunk arrives", async () => {
    const message = fromWire({
      id: "m",
      direction: "outbound",
      messageContent: { type: "TEXT", payload: { text: "**Hello**" } },
      createdAt: "2026-11-21T10:00:00Z",
      attachments: [],
    });
    const [bubble] = content(message, () => undefined, DEFAULTS) as HTMLElement[];

    expect(bubble.innerHTML).toBe("**Hello**");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(bubble.innerHTML).toBe("<strong>Hello</strong>");
  });
});
