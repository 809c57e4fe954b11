/** The rules engine of the chat manager: the twin of guide/rules/engine.py.
 *
 * Same rule format, same facts, same semantics (docs/proactive.md); the golden
 * cases in tests/golden/rules/ run through both engines. Fails closed: a
 * malformed rule never throws, it does not hold.
 */

export type Facts = Record<string, unknown>;
export type Rule = unknown;

const MISSING = undefined;

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === "string";
const fold = (value: string, ignoreCase: boolean): string => (ignoreCase ? value.toLowerCase() : value);

const INVALID = {};
const regexCache = new Map<string, RegExp | null>();

function regex(pattern: unknown, ignoreCase: boolean): RegExp {
  if (!isString(pattern)) throw INVALID;
  const key = (ignoreCase ? "i" : "-") + pattern;
  let compiled = regexCache.get(key);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(pattern, ignoreCase ? "i" : "");
    } catch {
      compiled = null;
    }
    if (regexCache.size > 1024) regexCache.clear();
    regexCache.set(key, compiled);
  }
  if (compiled === null) throw INVALID;
  return compiled;
}

type Test = (fact: unknown, value: unknown, ignoreCase: boolean) => boolean;

const stringOp =
  (test: (fact: string, value: string) => boolean): Test =>
  (fact, value, ignoreCase) =>
    isString(fact) && isString(value) && test(fold(fact, ignoreCase), fold(value, ignoreCase));

const numberOp =
  (test: (fact: number, value: number) => boolean): Test =>
  (fact, value) =>
    isNumber(fact) && isNumber(value) && test(fact, value);

const matches: Test = (fact, value, ignoreCase) => {
  const pattern = regex(value, ignoreCase);
  return isString(fact) && pattern.test(fact);
};

function same(fact: unknown, candidate: unknown, ignoreCase: boolean): boolean {
  if (isString(fact) && isString(candidate)) return fold(fact, ignoreCase) === fold(candidate, ignoreCase);
  if (isNumber(fact) && isNumber(candidate)) return fact === candidate;
  if (typeof fact === "boolean" && typeof candidate === "boolean") return fact === candidate;
  return false;
}

function clock(text: unknown): number | null {
  if (!isString(text) || !/^\d\d:\d\d$/.test(text)) return null;
  const hours = Number(text.slice(0, 2));
  const minutes = Number(text.slice(3));
  return hours > 23 || minutes > 59 ? null : hours * 60 + minutes;
}

const POSITIVE: Record<string, Test> = {
  equals: stringOp((fact, value) => fact === value),
  contains: stringOp((fact, value) => fact.includes(value)),
  startsWith: stringOp((fact, value) => fact.startsWith(value)),
  endsWith: stringOp((fact, value) => fact.endsWith(value)),
  matches,
  eq: numberOp((fact, value) => fact === value),
  gt: numberOp((fact, value) => fact > value),
  gte: numberOp((fact, value) => fact >= value),
  lt: numberOp((fact, value) => fact < value),
  lte: numberOp((fact, value) => fact <= value),
  between: (fact, value) =>
    Array.isArray(value) &&
    value.length === 2 &&
    isNumber(value[0]) &&
    isNumber(value[1]) &&
    isNumber(fact) &&
    value[0] <= fact &&
    fact <= value[1],
  isTrue: (fact) => fact === true,
  isFalse: (fact) => fact === false,
  isSet: (fact) => fact !== MISSING && fact !== null && fact !== "",
  in: (fact, value, ignoreCase) => Array.isArray(value) && value.some((candidate) => same(fact, candidate, ignoreCase)),
  includes: (fact, value, ignoreCase) => Array.isArray(fact) && fact.some((item) => same(item, value, ignoreCase)),
  includesMatching: (fact, value, ignoreCase) => {
    const pattern = regex(value, ignoreCase);
    return Array.isArray(fact) && fact.some((item) => isString(item) && pattern.test(item));
  },
  timeBetween: (fact, value) => {
    if (!Array.isArray(value) || value.length !== 2) throw INVALID;
    const start = clock(value[0]);
    const end = clock(value[1]);
    if (start === null || end === null) throw INVALID;
    if (!isNumber(fact)) return false;
    if (start === end) return true;
    return start < end ? start <= fact && fact < end : fact >= start || fact < end;
  },
};

const NEGATED: Record<string, string> = {
  notEquals: "equals",
  notContains: "contains",
  notMatches: "matches",
  ne: "eq",
  isNotSet: "isSet",
  notIn: "in",
  notIncludes: "includes",
};

const own = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

type Compiled = (facts: Facts) => boolean;
const never: Compiled = () => false;

function compileLeaf(node: Record<string, unknown>): Compiled {
  const op = node.op;
  if (!isString(op)) return never;
  const negated = own(NEGATED, op);
  const name = negated ? NEGATED[op] : op;
  if (!own(POSITIVE, name)) return never;
  const test = POSITIVE[name];
  const factName = node.fact;
  const value = node.value;
  const ignoreCase = node.ignoreCase === true;
  return (facts) => {
    const fact = isString(factName) && own(facts, factName) ? facts[factName] : MISSING;
    try {
      const result = test(fact, value, ignoreCase);
      return negated ? !result : result;
    } catch {
      return false;
    }
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Turns a rule into a function once; the chat manager evaluates it on every page event. */
export function compile(rule: Rule): Compiled {
  if (!isObject(rule)) return never;
  if (own(rule, "all")) {
    const nodes = rule.all;
    if (!Array.isArray(nodes)) return never;
    const parts = nodes.map(compile);
    return (facts) => {
      for (const part of parts) if (!part(facts)) return false;
      return true;
    };
  }
  if (own(rule, "any")) {
    const nodes = rule.any;
    if (!Array.isArray(nodes)) return never;
    const parts = nodes.map(compile);
    return (facts) => {
      for (const part of parts) if (part(facts)) return true;
      return false;
    };
  }
  if (own(rule, "not")) {
    if (!isObject(rule.not)) return never;
    const inner = compile(rule.not);
    return (facts) => !inner(facts);
  }
  return compileLeaf(rule);
}

const compiledRules = new WeakMap<object, Compiled>();

/** Whether `rule` holds for `facts`. Never throws. Compiles each rule object once. */
export function evaluate(rule: Rule, facts: Facts): boolean {
  if (typeof rule !== "object" || rule === null) return false;
  let compiled = compiledRules.get(rule);
  if (!compiled) {
    compiled = compile(rule);
    compiledRules.set(rule, compiled);
  }
  return compiled(facts);
}
