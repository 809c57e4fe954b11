"""engage.lib.consumers: dispatch without Channels' per-message connection check."""

import asyncio
import gc
import threading

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import SynchronousOnlyOperation

from engage.lib.consumers import PumpedConsumerMixin, WorkerDatabaseMixin, in_loop_or_worker
from tests.collector import cyclic_garbage


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


@pytest.mark.django_db(transaction=True)  # the worker closes the database connections it finds (in_worker)
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


class Pumped(PumpedConsumerMixin, WorkerDatabaseMixin, AsyncWebsocketConsumer):
    """Records each handler's start and end: handlers must never overlap."""

    def __init__(self):
        super().__init__()
        self.log = []

    groups = ["pumped"]
    disconnected_with = None

    async def connect(self):
        await self.accept()

    async def disconnect(self, code):
        self.disconnected_with = code

    async def websocket_receive(self, message):
        self.log.append(("start", message["text"]))
        await asyncio.sleep(0.01)  # a handler that yields: the other source must wait
        self.log.append(("end", message["text"]))

    async def chat_event(self, message):
        self.log.append(("start", message["n"]))
        await asyncio.sleep(0.005)
        self.log.append(("end", message["n"]))
        if message["n"] == "boom":
            raise RuntimeError("handler failed")


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "engage.layers.InProcessChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def _pumped():
    from channels.testing import WebsocketCommunicator

    consumer = Pumped()

    async def application(scope, receive, send):
        await consumer(scope, receive, send)

    communicator = WebsocketCommunicator(application, "/ws")
    connected, _ = await communicator.connect()
    assert connected
    return consumer, communicator


async def test_both_sources_are_served_one_handler_at_a_time_each_in_order(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()
    for n in range(3):
        await communicator.send_to(text_data=f"c{n}")
        await get_channel_layer().send(consumer.channel_name, {"type": "chat.event", "n": f"l{n}"})
    await asyncio.sleep(0.2)
    await communicator.disconnect()
    assert len(consumer.log) == 12
    for start, end in zip(consumer.log[::2], consumer.log[1::2], strict=True):
        assert (start[0], end[0], start[1]) == ("start", "end", end[1])  # never interleaved
    started = [name for kind, name in consumer.log if kind == "start"]
    assert [n for n in started if n.startswith("c")] == ["c0", "c1", "c2"]
    assert [n for n in started if n.startswith("l")] == ["l0", "l1", "l2"]


async def test_a_read_gate_holds_the_clients_frames_not_the_layers_messages(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()
    gate = consumer.read_gate = asyncio.get_running_loop().create_future()
    await communicator.send_to(text_data="c0")
    await communicator.send_to(text_data="c1")
    await get_channel_layer().send(consumer.channel_name, {"type": "chat.event", "n": "l0"})
    await asyncio.sleep(0.1)
    assert consumer.log == [("start", "l0"), ("end", "l0")]  # the frames wait; the layer's message does not
    consumer.read_gate = None
    gate.set_result(None)
    await asyncio.sleep(0.1)
    await communicator.disconnect()
    assert consumer.log[2:] == [("start", "c0"), ("end", "c0"), ("start", "c1"), ("end", "c1")]


async def test_a_gate_left_set_once_done_holds_nothing(layer):
    consumer, communicator = await _pumped()
    consumer.read_gate = asyncio.get_running_loop().create_future()
    consumer.read_gate.set_result(None)
    await communicator.send_to(text_data="c0")
    await asyncio.sleep(0.1)
    await communicator.disconnect()
    assert consumer.log == [("start", "c0"), ("end", "c0")]


async def test_a_disconnect_read_at_the_read_gate_is_let_through(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()
    gate = consumer.read_gate = asyncio.get_running_loop().create_future()
    await communicator.disconnect()  # returns once the application ended
    assert (consumer.disconnected_with, consumer.left) == (1000, True)
    assert not gate.cancelled()  # the consumer's own future, not the pump's to cancel
    assert not get_channel_layer().groups  # it left its groups


async def test_a_consumer_stopped_with_a_frame_at_its_read_gate_still_leaves(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()
    consumer.read_gate = asyncio.get_running_loop().create_future()
    await communicator.send_to(text_data="c0")  # waits at the gate, the disconnect behind it
    await communicator.disconnect(timeout=0.3)  # then the server stops the application
    assert consumer.log == []
    assert consumer.disconnected_with == 1006
    assert not get_channel_layer().groups


async def test_a_disconnect_stops_both_sources(layer):
    _consumer, communicator = await _pumped()
    await communicator.disconnect()
    await communicator.wait(timeout=1)  # the application returned: no source is left running


async def test_a_failing_handler_ends_the_connection_with_its_error(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()
    assert get_channel_layer().groups == {"pumped": {consumer.channel_name}}
    await get_channel_layer().send(consumer.channel_name, {"type": "chat.event", "n": "boom"})
    with pytest.raises(RuntimeError, match="handler failed"):
        await communicator.wait(timeout=1)
    assert consumer.disconnected_with == 1006  # as a push failing once the client left: it still leaves
    assert not get_channel_layer().groups


async def test_a_closed_connection_is_freed_without_the_cycle_collector(layer):
    from channels.layers import get_channel_layer

    consumer, communicator = await _pumped()  # the first connection fills the layer's caches
    await communicator.disconnect()
    gc.collect()
    consumer, communicator = await _pumped()
    await communicator.send_to(text_data="c0")
    await get_channel_layer().send(consumer.channel_name, {"type": "chat.event", "n": "l0"})
    await asyncio.sleep(0.05)
    await communicator.disconnect()
    await communicator.wait(timeout=1)
    del consumer, communicator
    assert cyclic_garbage() == []


class FailsWhenCancelled(Pumped):
    async def chat_event(self, message):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None


async def test_a_handler_failing_as_its_socket_closes_is_logged(layer, caplog):
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    consumer = FailsWhenCancelled()

    async def application(scope, receive, send):
        await consumer(scope, receive, send)

    communicator = WebsocketCommunicator(application, "/ws")
    assert (await communicator.connect())[0]
    await get_channel_layer().send(consumer.channel_name, {"type": "chat.event", "n": "slow"})
    await asyncio.sleep(0.05)  # the handler is running
    with caplog.at_level("ERROR", logger="engage.lib.consumers"):
        communicator.future.cancel()  # the server stops the connection
        with pytest.raises(asyncio.CancelledError):
            await communicator.future
    assert [(record.getMessage(), str(record.exc_info[1])) for record in caplog.records] == [
        ("A handler failed while its socket closed", "cleanup failed")
    ]


async def test_the_turn_goes_to_waiters_in_the_order_they_asked():
    from engage.lib.consumers import _Turn

    turn, order = _Turn(), []

    async def handler(name: str) -> None:
        if turn.held:
            await turn.wait()
        else:
            turn.held = True
        try:
            order.append(name)
            await asyncio.sleep(0.01)
        finally:
            turn.give()

    await asyncio.gather(*(handler(name) for name in "abcd"))
    assert order == ["a", "b", "c", "d"]
    assert turn.held is False
    assert not turn.waiters


async def _held_with_two_waiting():  # type: ignore[no-untyped-def]
    """A held turn, and two handlers waiting for it in order (their tasks started)."""
    from engage.lib.consumers import _Turn

    turn = _Turn()
    turn.held = True
    first = asyncio.ensure_future(turn.wait())
    second = asyncio.ensure_future(turn.wait())
    await asyncio.sleep(0)
    return turn, first, second


async def test_a_waiter_cancelled_before_its_turn_leaves_the_turn_to_the_next():
    turn, first, second = await _held_with_two_waiting()
    first.cancel()
    await asyncio.sleep(0)
    turn.give()
    await asyncio.wait_for(second, timeout=1)  # the turn went past the cancelled waiter
    assert first.cancelled()
    assert turn.held is True  # second holds it
    turn.give()
    assert turn.held is False


async def test_a_waiter_cancelled_once_given_the_turn_passes_it_on():
    turn, first, second = await _held_with_two_waiting()
    turn.give()  # the turn is first's: its wait is done, its task not yet resumed
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, timeout=1)
    assert turn.held is True
    turn.give()
    assert turn.held is False
