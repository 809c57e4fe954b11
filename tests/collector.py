"""What a test can ask the cyclic garbage collector."""

from __future__ import annotations

import gc

# What Django leaves in reference cycles whatever a test does, and whenever it happens: the
# nested function its SQL compiler makes for a query that follows relations
# (``SQLCompiler.get_select``), and the connection objects of a thread that used the database
# and ended (a ``DatabaseWrapper`` and its helpers point at each other).
DJANGO_OWN = frozenset(
    {
        "cell",
        "function",
        "tuple",
        "BaseDatabaseValidation",
        "DatabaseClient",
        "DatabaseCreation",
        "DatabaseErrorWrapper",
        "DatabaseFeatures",
        "DatabaseIntrospection",
        "DatabaseOperations",
        "DatabaseWrapper",
        "deque",
        "dict",
        "list",
        "lock",
    }
)


def cyclic_garbage() -> list[str]:
    """The types of what only the cyclic collector would free, found by a full collection now,
    but for what Django leaves of its own (``DJANGO_OWN``)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({type(found).__qualname__ for found in gc.garbage} - DJANGO_OWN)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()  # what the debug flag kept for the list is garbage again: freed now
