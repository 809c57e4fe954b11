"""Models of the byoc app (see docs/architecture.md)."""
