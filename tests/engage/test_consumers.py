"""engage.lib.consumers: dispatch without Channels' per-message connection check."""

import asyncio
import threading

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import SynchronousOnlyOperation

from engage.lib.consumers import WorkerDatabaseMixin, in_loop_or_worker


class Recorder(WorkerDatabaseMixin, AsyncWebsocketConsumer):
    def __init__(self):
        super().__init__()
        self.seen = []

    async def chat_event(self, message):
        self.seen.append(message)


async def test_a_message_reaches_its_handler_without_the_thread_hop(monkeypatch):
    async def forbidden():
        raise AssertionError("close_old_connections ran on the event loop's behalf")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", forbidden)
    consumer = Recorder()
    await consumer.dispatch({"type": "chat.event", "event": {"n": 1}})
    assert consumer.seen == [{"type": "chat.event", "event": {"n": 1}}]


async def test_a_message_without_handler_is_an_error_as_in_channels():
    with pytest.raises(ValueError, match=r"^No handler for message type no\.such$"):
        await Recorder().dispatch({"type": "no.such"})


async def test_work_without_a_query_stays_in_the_loop_and_work_with_one_goes_to_a_worker():
    loop_thread = threading.get_ident()

    def pure():
        return threading.get_ident()

    def reads():  # what Django does with a query in the event loop, before sending it
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return threading.get_ident()
        raise SynchronousOnlyOperation("You cannot call this from an async context")

    assert await in_loop_or_worker(pure) == loop_thread
    assert await in_loop_or_worker(reads) != loop_thread
