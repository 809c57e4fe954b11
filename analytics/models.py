"""Models of the analytics app (see docs/architecture.md)."""
