"""What a test can ask the cyclic garbage collector."""

from __future__ import annotations

import gc


def cyclic_garbage() -> list[str]:
    """The types of what only the cyclic collector would free, found by a full collection now."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({type(found).__qualname__ for found in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()  # what the debug flag kept for the list is garbage again: freed now
