"""A small pool of Django processes for work too heavy for the sockets' process.

The sockets of a process share one event loop, and the loop shares the GIL with
the worker threads that do the sockets' database work: a call that holds the
GIL for tens of milliseconds (reading, decrypting and serialising a megabyte of
messages) delays every socket's frames by as much (docs/performance.md, "Large
events"). ``ProcessPool`` runs such calls in processes of their own, spawned
with Django set up as in the parent: the settings module, then the settings
the parent may hold changed at run time (``SHARED_SETTINGS``: the test
database's name, a test's media folder), so a child reads and writes what the
parent would.

The pool is created on first use, or by ``warm()`` at the ASGI lifespan's
startup so the first call does not wait for Django's setup in the child. A
call that fails for the pool's sake (a child killed, a call past its timeout)
drops the pool, which the next call creates again; the caller decides what to
do instead (the gateway renders in a worker thread, as without the pool).
Size 0 turns the pool off.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Settings a child takes from its parent as they are when the pool starts, over its settings module's.
SHARED_SETTINGS = (
    "DATABASES",
    "STORAGES",
    "MEDIA_ROOT",
    "SECRET_KEY",
    "ENCRYPTION_KEYS",
    "SIGNED_URL_TTL",
    "PARLEY_GATEWAY_PAGE_SIZE",
)

_pools: weakref.WeakSet[ProcessPool] = weakref.WeakSet()


def _start(overrides: dict[str, Any], prepare: str | None) -> None:
    """A child's initializer: Django set up, the parent's settings over the module's, then
    ``prepare`` (a function's dotted path) called, so that the first call pays no cold start."""
    # The parent's terminal sends Ctrl-C to the whole process group; the parent stops its children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
    import django
    from django.conf import settings as child_settings

    for name, value in overrides.items():  # before setup: nothing has read them yet
        setattr(child_settings, name, value)
    django.setup(set_prefix=False)
    if prepare is not None:
        from django.utils.module_loading import import_string

        import_string(prepare)()


def _call(function: Callable[..., T], *args: Any) -> T:
    """A call in a child, its database connections kept as a request's are (CONN_MAX_AGE, health)."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


def _ready() -> int:
    return os.getpid()


class ProcessPool:
    """Spawned Django processes, as many as the setting ``size_setting`` says (0: none), each
    calling the function ``prepare`` names (a dotted path: imported once Django is set up) when it
    starts: what the calls need that a first call would otherwise pay for (imports, the URLconf)."""

    def __init__(self, size_setting: str, *, prepare: str | None = None, timeout: float = 30.0) -> None:
        self.size_setting = size_setting
        self.prepare = prepare
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None
        _pools.add(self)

    @property
    def size(self) -> int:
        return max(0, int(getattr(settings, self.size_setting, 0) or 0))

    @property
    def enabled(self) -> bool:
        return self.size > 0

    @property
    def started(self) -> bool:
        """Whether children run (or are starting): the pool was used or warmed since it last stopped."""
        return self._executor is not None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            overrides = {name: getattr(settings, name) for name in SHARED_SETTINGS if hasattr(settings, name)}
            self._executor = ProcessPoolExecutor(
                max_workers=self.size,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(overrides, self.prepare),
            )
        return self._executor

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a child (both picklable; the function a module's). Raises what the
        call raised, ``TimeoutError`` past the pool's timeout, ``BrokenProcessPool`` when a child died."""
        executor = self._pool()
        try:
            future = executor.submit(_call, function, *args)  # refused at once when a child died idle
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except (TimeoutError, BrokenProcessPool):
            self._drop(executor)
            raise

    async def warm(self) -> None:
        """Starts the children now (each sets Django up once), so that the first call does not wait."""
        if not self.enabled:
            return
        try:
            await asyncio.gather(*(self.run(_ready) for _ in range(self.size)))
        except Exception:
            logger.exception("process pool %s did not start", self.size_setting)

    def shutdown(self) -> None:
        """Stops the children (a call under way is abandoned); the next call starts new ones."""
        if self._executor is not None:
            self._drop(self._executor)

    def _drop(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
        # A child past its timeout may never return: stopped, not waited for.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)


async def warm_all() -> None:
    """Starts every pool's children (the ASGI lifespan's startup)."""
    await asyncio.gather(*(pool.warm() for pool in _pools))


def shutdown_all() -> None:
    """Stops every pool's children (the ASGI lifespan's shutdown)."""
    for pool in _pools:
        pool.shutdown()


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    """A test changed a setting the children took: the next call starts children that see it."""
    if setting in SHARED_SETTINGS or any(setting == pool.size_setting for pool in _pools):
        for pool in _pools:
            pool.shutdown()
