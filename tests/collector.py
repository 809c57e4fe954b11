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
    """The types of what only the cyclic collector would free, found by a collection of the whole
    heap now, but for what Django leaves of its own (``DJANGO_OWN``)."""
    return sorted({kind.__qualname__ for kind in _garbage_types()} - DJANGO_OWN)


def cyclic_garbage_from(modules: tuple[str, ...]) -> list[str]:
    """The same, of the types (module-qualified names) defined in ``modules`` only."""
    names = {f"{kind.__module__}.{kind.__qualname__}" for kind in _garbage_types()}
    return sorted(name for name in names if name.startswith(modules))


def _garbage_types() -> set[type]:
    """Frozen objects too: a server freezes what survives its full collections
    (``engage.asgi.FreezeSurvivors``), and what they leave in cycles waits for its next sweep."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return {type(found) for found in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()  # what the debug flag kept for the list is garbage again: freed now
        if frozen:
            gc.freeze()
