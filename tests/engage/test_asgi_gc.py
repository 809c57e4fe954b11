"""The ASGI application tunes the cyclic garbage collector for a long-lived server."""

import gc
import json
import os
import re
import subprocess
import sys
import time
import weakref

import pytest
from django.core.exceptions import ImproperlyConfigured

import engage.asgi


class Node:
    """A gc-tracked object a weak reference can follow."""

    peer: object = None


def _frozen(found: object) -> bool:
    """Alive and in none of the collector's generations: in its permanent one."""
    return not any(tracked is found for tracked in gc.get_objects())


def test_a_server_freezes_startup_and_the_survivors_of_full_collections():  # type: ignore[no-untyped-def]
    """What an ASGI process gets by default (the test process itself runs with
    ``PARLEY_GC_SWEEP_SECONDS=off``, tests/conftest.py)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PARLEY_GC_")}
    probe = (
        "import gc, json, engage.asgi as asgi; "
        "hooks = [hook for hook in gc.callbacks if isinstance(hook, asgi.FreezeSurvivors)]; "
        "print(json.dumps([gc.get_freeze_count() > 10_000, gc.get_threshold(), "
        "[(hook.sweep_seconds, hook.sweeper.is_alive(), hook.sweeper.daemon) for hook in hooks]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=120, check=True
    )
    frozen, threshold, hooks = json.loads(result.stdout.strip().splitlines()[-1])
    assert frozen  # Django, the apps and their libraries
    assert threshold == [700, 10, 10]
    assert hooks == [[3600.0, True, True]]


def test_a_full_collection_freezes_what_it_finds_alive(survivors):  # type: ignore[no-untyped-def]
    kept = Node()
    assert not _frozen(kept)
    gc.collect(1)  # a young collection: kept moves up a generation, nothing is frozen
    assert not _frozen(kept)
    gc.collect()
    assert _frozen(kept)
    assert gc.get_objects(generation=2) == []  # the next full collection walks only what comes after
    newcomer = Node()
    gc.collect()
    assert _frozen(newcomer)


def test_a_frozen_object_is_still_freed_by_its_reference_count(survivors):  # type: ignore[no-untyped-def]
    kept = Node()
    gc.collect()
    assert _frozen(kept)
    gone = weakref.ref(kept)
    del kept
    assert gone() is None  # at once, with no collection in between


def test_a_cycle_left_by_frozen_objects_waits_for_the_sweep(survivors):  # type: ignore[no-untyped-def]
    kept = Node()
    kept.peer = kept  # a reference cycle: only the collector frees it
    gc.collect()
    gone = weakref.ref(kept)
    del kept
    gc.collect()
    assert gone() is not None  # frozen: no collection walks it
    survivors.sweep()
    assert gone() is None
    assert len(survivors.sweeps) == 1 and survivors.sweeps[0] >= 1
    assert gc.get_freeze_count() > 10_000  # the sweep froze what it found alive again


def test_a_process_reading_its_garbage_freezes_nothing(survivors):  # type: ignore[no-untyped-def]
    kept = Node()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not _frozen(kept)


def test_the_sweeper_sweeps_every_period():  # type: ignore[no-untyped-def]
    try:
        first = engage.asgi._freeze_survivors(3600)
        kept = Node()
        kept.peer = kept
        gc.collect()  # frozen by the first hook
        gone = weakref.ref(kept)
        del kept
        hook = engage.asgi._freeze_survivors(0.05)
        assert first is not None and hook is not None
        assert [found for found in gc.callbacks if isinstance(found, engage.asgi.FreezeSurvivors)] == [hook]
        assert first.stopped.is_set()  # one sweeper a process
        deadline = time.monotonic() + 10
        while not hook.sweeps and time.monotonic() < deadline:  # a sweep has ended since
            time.sleep(0.01)
        assert gone() is None
        assert hook.sweeps[0] >= 1
    finally:
        assert engage.asgi._freeze_survivors(None) is None
    assert not any(isinstance(found, engage.asgi.FreezeSurvivors) for found in gc.callbacks)
    for sweeper in (first.sweeper, hook.sweeper):
        sweeper.join(5)
        assert not sweeper.is_alive()


@pytest.mark.parametrize("text", ["0", "-1", "59", "nan", "inf", "1e12", "hourly", ""])
def test_a_sweep_period_out_of_bounds_is_refused(text):  # type: ignore[no-untyped-def]
    with pytest.raises(ImproperlyConfigured, match="PARLEY_GC_SWEEP_SECONDS must be a number of seconds"):
        engage.asgi.sweep_period(text)


def test_a_sweep_period_is_seconds_or_off():  # type: ignore[no-untyped-def]
    assert engage.asgi.sweep_period("off") is None
    assert engage.asgi.sweep_period(" OFF ") is None
    assert engage.asgi.sweep_period("60") == 60.0
    assert engage.asgi.sweep_period(" 3600 ") == 3600.0


def test_a_forked_child_sweeps_with_a_thread_of_its_own():  # type: ignore[no-untyped-def]
    hook = engage.asgi._freeze_survivors(0.05)
    try:
        assert hook is not None
        pid = os.fork()
        if pid == 0:  # the child: only the forking thread survives a fork
            status = 1
            try:
                deadline = time.monotonic() + 10
                while not hook.sweeps and time.monotonic() < deadline:
                    time.sleep(0.01)
                status = 0 if hook.sweeps and hook.sweeper.is_alive() else 1
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        engage.asgi._freeze_survivors(None)


def test_off_freezes_nothing_after_startup():  # type: ignore[no-untyped-def]
    engage.asgi._freeze_survivors(3600)
    assert engage.asgi._freeze_survivors(None) is None
    kept = Node()
    gc.collect()
    assert not _frozen(kept)


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
