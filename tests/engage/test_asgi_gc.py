"""The ASGI application tunes the cyclic garbage collector for a long-lived server."""

import gc

import engage.asgi


def test_startup_objects_are_frozen_and_full_collections_are_rarer():  # type: ignore[no-untyped-def]
    assert engage.asgi.application is not None
    assert gc.get_freeze_count() > 10_000  # Django, the apps and their libraries
    assert gc.get_threshold() == (700, 10, 100)


def test_the_thresholds_can_be_set_or_kept(monkeypatch):  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    try:
        engage.asgi._tune_garbage_collector("5000,5,5")
        assert gc.get_threshold() == (5000, 5, 5)
        gc.set_threshold(700, 10, 10)
        engage.asgi._tune_garbage_collector("default")
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
