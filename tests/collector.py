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
    but for what Django leaves of its own (``DJANGO_OWN``). Frozen objects are not looked at:
    startup's are (``engage.asgi``), and tests run without freezing survivors
    (``PARLEY_GC_SWEEP_SECONDS=off``, tests/conftest.py)."""
    return sorted({kind.__qualname__ for kind in _garbage_types(frozen_too=False)} - DJANGO_OWN)


def cyclic_garbage_from(modules: tuple[str, ...]) -> list[str]:
    """The module-qualified types defined in ``modules`` of what only the cyclic collector would
    free, frozen objects included: what a server that freezes the survivors of its full
    collections (``engage.asgi.FreezeSurvivors``) would keep until its next sweep."""
    names = {f"{kind.__module__}.{kind.__qualname__}" for kind in _garbage_types(frozen_too=True)}
    return sorted(name for name in names if name.startswith(modules))


def _garbage_types(*, frozen_too: bool) -> set[type]:
    frozen = gc.get_freeze_count()
    if frozen_too:
        gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return {type(found) for found in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()  # what the debug flag kept for the list is garbage again: freed now
        if frozen_too and frozen:
            gc.freeze()
