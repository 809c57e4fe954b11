"""The server-side rules engine; ``static/src/chatmanager/rules.ts`` is its twin.

Both evaluate the same JSON rule format against the same facts, and the golden
cases in ``tests/golden/rules/`` run through both so they cannot drift.
The format and every operator are described in docs/proactive.md.
"""

from guide.rules.engine import evaluate
from guide.rules.schema import ALL_OPERATORS, FACTS, OPERATORS, RuleError, rule_validate

__all__ = ["ALL_OPERATORS", "FACTS", "OPERATORS", "RuleError", "evaluate", "rule_validate"]
