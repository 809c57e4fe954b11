"""Models of the guide app (see docs/architecture.md)."""
