"""The ASGI application tunes the cyclic garbage collector for a long-lived server."""

import gc
import re

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


def test_long_pauses_are_logged(caplog):  # type: ignore[no-untyped-def]
    hooks = [hook for hook in gc.callbacks if isinstance(hook, engage.asgi.CollectorPauses)]
    assert len(hooks) == 1 and hooks[0].threshold == 0.05  # 50 ms by default
    try:
        gc.collect()  # what earlier tests left
        engage.asgi._watch_garbage_collector("0")
        garbage: list[object] = []
        garbage.append(garbage)  # a reference cycle: only the collector frees it
        del garbage
        with caplog.at_level("WARNING", logger="parley.gc"):
            gc.collect()
        assert [record.name for record in caplog.records] == ["parley.gc"]
        message = caplog.records[0].getMessage()
        assert message.startswith("collection of generation 2 paused the process for ")
        assert re.fullmatch(r"[0-9.]+ ms \([0-9.]+ ms of CPU, 1 objects freed\)", message.split(" for ")[1])
        engage.asgi._watch_garbage_collector("off")
        assert not any(isinstance(hook, engage.asgi.CollectorPauses) for hook in gc.callbacks)
    finally:
        engage.asgi._watch_garbage_collector("50")
