import { describe, expect, it } from "vitest";
import { el, safeUrl } from "../../static/src/common/escape";

describe("el", () => {
  it("inserts markup as text, never as HTML", () => {
    const node = el("p", {}, "<img src=x onerror=alert(1)>");
    expect(node.children.length).toBe(0);
    expect(node.textContent).toBe("<img src=x onerror=alert(1)>");
  });
});

describe("safeUrl", () => {
  it("keeps http and https URLs", () => {
    expect(safeUrl("https://shop.example/a?b=1")).toBe("https://shop.example/a?b=1");
  });
  it("refuses javascript: and data: URLs", () => {
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("data:text/html,<b>x</b>")).toBeNull();
    expect(safeUrl(42)).toBeNull();
  });
});
