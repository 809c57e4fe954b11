"""What a valid rule is: the facts, their types and the operators each type takes.

``rule_validate`` is what admin and the config endpoint use before a rule
reaches a browser; the engine itself never trusts a rule (it fails closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engage.errors import InvalidInput

MAX_DEPTH = 6
MAX_NODES = 64
MAX_PATTERN = 200
MAX_STRING = 500
MAX_LIST = 50


class RuleError(InvalidInput):
    """The rule is invalid."""

    code = "invalid_rule"


STRING, NUMBER, BOOLEAN, LIST, MINUTE = "string", "number", "boolean", "list", "minute"

FACTS: dict[str, tuple[str, str]] = {
    "page.url": (STRING, "Page URL"),
    "page.path": (STRING, "Page path"),
    "page.title": (STRING, "Page title"),
    "page.referrer": (STRING, "Referrer"),
    "page.viewCount": (NUMBER, "Views of this page in the visit"),
    "page.timeOnPage": (NUMBER, "Seconds on the current page"),
    "visit.pageViews": (NUMBER, "Page views in the visit"),
    "visit.count": (NUMBER, "Visit number of the visitor"),
    "visit.duration": (NUMBER, "Seconds since the visit started"),
    "visit.pagesSeen": (LIST, "Paths seen before in the visit"),
    "time.dayOfWeek": (NUMBER, "Day of week, 1 = Monday (tenant time zone)"),
    "time.minuteOfDay": (MINUTE, "Time of day (tenant time zone)"),
    "identity.present": (BOOLEAN, "Visitor identified"),
    "identity.signed": (BOOLEAN, "Visitor identity signed"),
}

PRESENCE_OPS = ("isSet", "isNotSet")
OPERATORS: dict[str, tuple[str, ...]] = {
    STRING: (
        "equals",
        "notEquals",
        "contains",
        "notContains",
        "startsWith",
        "endsWith",
        "matches",
        "notMatches",
        "in",
        "notIn",
        *PRESENCE_OPS,
    ),
    NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "notIn", *PRESENCE_OPS),
    BOOLEAN: ("isTrue", "isFalse", *PRESENCE_OPS),
    LIST: ("includes", "notIncludes", "includesMatching", *PRESENCE_OPS),
    MINUTE: ("timeBetween", "gte", "lt", *PRESENCE_OPS),
}
ALL_OPERATORS = tuple(sorted({op for ops in OPERATORS.values() for op in ops}))
VARIABLE_TYPES = (STRING, NUMBER, BOOLEAN)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Python-only syntax: named groups (?P…), inline flags, comments, \A \Z \z \G.
_NOT_PORTABLE = re.compile(r"\(\?(P|#|[aiLmsux-]+[):])|\\[AZzG]")
_VARIABLE_FACT = re.compile(r"^var\.[A-Za-z_][A-Za-z0-9_]{0,63}$")


def fact_type(fact: str, variables: Mapping[str, str]) -> str | None:
    if fact in FACTS:
        return FACTS[fact][0]
    if _VARIABLE_FACT.match(fact):
        return variables.get(fact[4:])
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_pattern(value: Any) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_PATTERN:
        raise RuleError(f"A regular expression has 1 to {MAX_PATTERN} characters.")
    try:
        re.compile(value)
    except re.error as error:
        raise RuleError(f"Invalid regular expression {value!r}: {error}.")
    if _NOT_PORTABLE.search(value):
        raise RuleError("Use only regular-expression syntax that browsers and Python share.")


def _check_value(kind: str, op: str, value: Any) -> None:
    if op in PRESENCE_OPS or op in {"isTrue", "isFalse"}:
        return
    if op in {"matches", "notMatches", "includesMatching"}:
        _check_pattern(value)
    elif op in {"in", "notIn"}:
        expected = str if kind == STRING else (int, float)
        if (
            not isinstance(value, list)
            or not 0 < len(value) <= MAX_LIST
            or not all(isinstance(v, expected) and not isinstance(v, bool) for v in value)
        ):
            raise RuleError(f"'{op}' takes a list of 1 to {MAX_LIST} {kind} values.")
    elif op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise RuleError("'between' takes [minimum, maximum].")
        if value[0] > value[1]:
            raise RuleError("'between' needs minimum ≤ maximum.")
    elif op == "timeBetween":
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) and _CLOCK.match(v) for v in value)
        ):
            raise RuleError('\'timeBetween\' takes two times ["HH:MM", "HH:MM"].')
    elif kind in {NUMBER, MINUTE}:
        if not _is_number(value):
            raise RuleError(f"'{op}' takes a number.")
    elif not isinstance(value, str) or len(value) > MAX_STRING:
        raise RuleError(f"'{op}' takes a text of at most {MAX_STRING} characters.")


def _validate_leaf(node: Mapping[str, Any], variables: Mapping[str, str]) -> None:
    unknown = set(node) - {"fact", "op", "value", "ignoreCase"}
    if unknown:
        raise RuleError(f"Unknown keys in a condition: {', '.join(sorted(unknown))}.")
    fact, op = node.get("fact"), node.get("op")
    if not isinstance(fact, str):
        raise RuleError("A condition names its fact.")
    kind = fact_type(fact, variables)
    if kind is None:
        raise RuleError(f"Unknown fact {fact!r}.")
    if op not in OPERATORS[kind]:
        raise RuleError(f"Operator {op!r} does not apply to {fact} ({kind}).")
    if "ignoreCase" in node and not isinstance(node["ignoreCase"], bool):
        raise RuleError("'ignoreCase' is true or false.")
    _check_value(kind, op, node.get("value"))


def rule_validate(rule: Any, *, variables: Mapping[str, str] | None = None) -> None:
    """Raises RuleError unless ``rule`` is well formed for these custom variable types."""
    variables = variables or {}
    count = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise RuleError(f"A rule has at most {MAX_NODES} nodes.")
        if depth > MAX_DEPTH:
            raise RuleError(f"A rule nests at most {MAX_DEPTH} levels.")
        if not isinstance(node, Mapping):
            raise RuleError("A rule node is an object.")
        for group in ("all", "any"):
            if group in node:
                if set(node) != {group} or not isinstance(node[group], list):
                    raise RuleError(f"'{group}' takes a list and nothing else.")
                for child in node[group]:
                    walk(child, depth + 1)
                return
        if "not" in node:
            if set(node) != {"not"}:
                raise RuleError("'not' takes one node and nothing else.")
            walk(node["not"], depth + 1)
            return
        _validate_leaf(node, variables)

    walk(rule, 0)
