"""engage.lib.consumers: dispatch without Channels' per-message connection check."""

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer

from engage.lib.consumers import WorkerDatabaseMixin


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
