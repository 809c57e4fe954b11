"""Evaluation of a rule against a facts snapshot (see docs/proactive.md).

Semantics shared with the TypeScript twin, exactly:

- ``{"all": [...]}`` holds when every node holds (empty: true); ``{"any": [...]}``
  when one does (empty: false); ``{"not": node}`` negates.
- A leaf ``{"fact", "op", "value", "ignoreCase"?}`` is typed strictly: strings,
  numbers (never booleans) and booleans do not mix. A positive operator on a
  missing fact or a fact of the wrong type does not hold; every negated
  operator holds exactly when its positive one does not.
- An unknown operator or an invalid regular expression never holds (positive
  or negated), so a malformed rule fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fold(value: str, ignore_case: bool) -> str:
    return value.lower() if ignore_case else value


@lru_cache(maxsize=1024)
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except (re.error, TypeError):
        return None


class _Invalid(Exception):
    """The leaf cannot be evaluated at all (unknown operator, bad pattern)."""


def _strings(fact: Any, value: Any, ignore_case: bool) -> tuple[str, str] | None:
    if not isinstance(fact, str) or not isinstance(value, str):
        return None
    return _fold(fact, ignore_case), _fold(value, ignore_case)


def _string_op(test: Callable[[str, str], bool]) -> Callable[[Any, Any, bool], bool]:
    def run(fact: Any, value: Any, ignore_case: bool) -> bool:
        pair = _strings(fact, value, ignore_case)
        return pair is not None and test(*pair)

    return run


def _matches(fact: Any, value: Any, ignore_case: bool) -> bool:
    if not isinstance(value, str):
        raise _Invalid
    pattern = _regex(value, ignore_case)
    if pattern is None:
        raise _Invalid
    return isinstance(fact, str) and pattern.search(fact) is not None


def _number_op(test: Callable[[float, float], bool]) -> Callable[[Any, Any, bool], bool]:
    def run(fact: Any, value: Any, ignore_case: bool) -> bool:
        return _is_number(fact) and _is_number(value) and test(fact, value)

    return run


def _between(fact: Any, value: Any, ignore_case: bool) -> bool:
    if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
        return False
    return _is_number(fact) and value[0] <= fact <= value[1]


def _same(fact: Any, candidate: Any, ignore_case: bool) -> bool:
    if isinstance(fact, str) and isinstance(candidate, str):
        return _fold(fact, ignore_case) == _fold(candidate, ignore_case)
    if _is_number(fact) and _is_number(candidate):
        return bool(fact == candidate)
    if isinstance(fact, bool) and isinstance(candidate, bool):
        return fact is candidate
    return False


def _in(fact: Any, value: Any, ignore_case: bool) -> bool:
    return isinstance(value, list) and any(_same(fact, candidate, ignore_case) for candidate in value)


def _includes(fact: Any, value: Any, ignore_case: bool) -> bool:
    return isinstance(fact, list) and any(_same(item, value, ignore_case) for item in fact)


def _includes_matching(fact: Any, value: Any, ignore_case: bool) -> bool:
    if not isinstance(value, str) or _regex(value, ignore_case) is None:
        raise _Invalid
    return isinstance(fact, list) and any(_matches(item, value, ignore_case) for item in fact)


def _clock(text: Any) -> int | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d\d:\d\d", text):
        return None
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def _time_between(fact: Any, value: Any, ignore_case: bool) -> bool:
    if not (isinstance(value, list) and len(value) == 2):
        raise _Invalid
    start, end = _clock(value[0]), _clock(value[1])
    if start is None or end is None:
        raise _Invalid
    if not _is_number(fact):
        return False
    if start == end:
        return True
    if start < end:
        return start <= fact < end
    return fact >= start or fact < end


def _is_set(fact: Any, value: Any, ignore_case: bool) -> bool:
    return fact is not MISSING and fact is not None and fact != ""


POSITIVE: dict[str, Callable[[Any, Any, bool], bool]] = {
    "equals": _string_op(lambda fact, value: fact == value),
    "contains": _string_op(lambda fact, value: value in fact),
    "startsWith": _string_op(lambda fact, value: fact.startswith(value)),
    "endsWith": _string_op(lambda fact, value: fact.endswith(value)),
    "matches": _matches,
    "eq": _number_op(lambda fact, value: fact == value),
    "gt": _number_op(lambda fact, value: fact > value),
    "gte": _number_op(lambda fact, value: fact >= value),
    "lt": _number_op(lambda fact, value: fact < value),
    "lte": _number_op(lambda fact, value: fact <= value),
    "between": _between,
    "isTrue": lambda fact, value, ignore_case: fact is True,
    "isFalse": lambda fact, value, ignore_case: fact is False,
    "isSet": _is_set,
    "in": _in,
    "includes": _includes,
    "includesMatching": _includes_matching,
    "timeBetween": _time_between,
}

NEGATED: dict[str, str] = {
    "notEquals": "equals",
    "notContains": "contains",
    "notMatches": "matches",
    "ne": "eq",
    "isNotSet": "isSet",
    "notIn": "in",
    "notIncludes": "includes",
}


def _leaf(node: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    op = node.get("op")
    if not isinstance(op, str):
        return False
    fact_name = node.get("fact")
    fact = facts.get(fact_name, MISSING) if isinstance(fact_name, str) else MISSING
    value = node.get("value")
    ignore_case = node.get("ignoreCase") is True
    negated = op in NEGATED
    test = POSITIVE.get(NEGATED[op] if negated else op)
    if test is None:
        return False
    try:
        result = test(fact, value, ignore_case)
    except _Invalid:
        return False
    return not result if negated else result


def evaluate(rule: Any, facts: Mapping[str, Any]) -> bool:
    """Whether ``rule`` holds for ``facts``. Never raises on malformed input: it fails closed."""
    if not isinstance(rule, Mapping):
        return False
    if "all" in rule:
        nodes = rule["all"]
        return isinstance(nodes, list) and all(evaluate(node, facts) for node in nodes)
    if "any" in rule:
        nodes = rule["any"]
        return isinstance(nodes, list) and any(evaluate(node, facts) for node in nodes)
    if "not" in rule:
        inner = rule["not"]
        return isinstance(inner, Mapping) and not evaluate(inner, facts)
    return _leaf(rule, facts)
