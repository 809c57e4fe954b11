"""engage.lib.loops: worker threads hand work to the server's loop without waiting."""

import asyncio
import logging
import os
import threading

from asgiref.sync import sync_to_async

from engage.lib.loops import run_soon


def test_outside_a_server_worker_it_runs_to_completion_at_once():
    done = []

    async def work():
        await asyncio.sleep(0)
        done.append(threading.get_ident())

    run_soon(work)
    assert done == [done[0]] and done[0] != threading.get_ident()  # ran, on async_to_sync's own loop thread


async def test_from_a_worker_it_returns_without_waiting_and_keeps_the_order():
    loop_thread = threading.get_ident()
    gate = asyncio.Event()
    started: list[tuple[int, int]] = []
    finished: list[int] = []

    async def work(n):
        started.append((n, threading.get_ident()))
        await gate.wait()  # held until the worker has returned: a waiting run_soon would never return
        finished.append(n)

    def worker():
        for n in range(50):
            run_soon(lambda n=n: work(n))

    await asyncio.wait_for(sync_to_async(worker, thread_sensitive=False)(), timeout=10)
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert started == [(n, loop_thread) for n in range(50)]
    assert finished == list(range(50))


async def test_a_failing_send_is_logged_not_raised(caplog):
    async def broken():
        raise RuntimeError("layer down")

    with caplog.at_level(logging.ERROR, logger="engage.lib.loops"):
        await sync_to_async(lambda: run_soon(broken), thread_sensitive=False)()
        for _ in range(10):
            await asyncio.sleep(0)
    assert [record.exc_info[1].args for record in caplog.records] == [("layer down",)]


def test_the_server_loop_is_uvloop_without_io_uring(monkeypatch):  # type: ignore[no-untyped-def]
    import uvloop

    from engage.lib.loops import new_event_loop

    monkeypatch.delenv("UV_USE_IO_URING", raising=False)
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert os.environ["UV_USE_IO_URING"] == "0"
    finally:
        loop.close()


def test_an_operators_io_uring_choice_is_kept(monkeypatch):  # type: ignore[no-untyped-def]
    from engage.lib.loops import new_event_loop

    monkeypatch.setenv("UV_USE_IO_URING", "1")
    new_event_loop().close()
    assert os.environ["UV_USE_IO_URING"] == "1"
