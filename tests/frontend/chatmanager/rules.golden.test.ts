// The golden rule cases through the TypeScript engine; tests/guide/test_golden_rules.py
// runs the same files through the Python engine.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../../static/src/chatmanager/rules";

const dir = join(__dirname, "..", "..", "golden", "rules");
const files = readdirSync(dir).filter((name) => name.endsWith(".json")).sort();

interface Case {
  name: string;
  rule: unknown;
  facts: Record<string, unknown>;
  expected: boolean;
}

let total = 0;
for (const file of files) {
  const cases: Case[] = JSON.parse(readFileSync(join(dir, file), "utf8")).cases;
  total += cases.length;
  describe(file, () => {
    for (const c of cases) {
      it(c.name, () => {
        expect(evaluate(c.rule, c.facts)).toBe(c.expected);
      });
    }
  });
}

it("has at least 100 golden cases", () => {
  expect(total).toBeGreaterThanOrEqual(100);
});
