"""The golden rule cases, run through the server-side engine.

tests/frontend/chatmanager/rules.golden.test.ts runs the same files through the
TypeScript engine, so the two cannot drift.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guide.rules import ALL_OPERATORS, evaluate
from guide.rules.engine import NEGATED, POSITIVE

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "rules"


def _cases() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(GOLDEN.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            found.append((f"{path.stem}: {case['name']}", case))
    return found


CASES = _cases()


def _operators(rule: object) -> set[str]:
    if isinstance(rule, dict):
        found = {rule["op"]} if isinstance(rule.get("op"), str) else set()
        for key in ("all", "any"):
            if isinstance(rule.get(key), list):
                for child in rule[key]:
                    found |= _operators(child)
        if "not" in rule:
            found |= _operators(rule["not"])
        return found
    return set()


def test_there_are_at_least_100_cases_and_names_are_unique() -> None:
    names = [name for name, _ in CASES]
    assert len(names) >= 100
    assert len(set(names)) == len(names)


def test_every_operator_has_golden_cases_that_hold_and_that_do_not() -> None:
    by_operator: dict[str, set[bool]] = {}
    for _, case in CASES:
        for op in _operators(case["rule"]):
            by_operator.setdefault(op, set()).add(case["expected"])
    engine_operators = set(POSITIVE) | set(NEGATED)
    assert set(ALL_OPERATORS) <= engine_operators
    for op in engine_operators:
        assert by_operator.get(op) == {True, False}, op


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_golden_case(name: str, case: dict) -> None:
    assert evaluate(case["rule"], case["facts"]) is case["expected"]
