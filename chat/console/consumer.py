"""The agent console socket (``ws/console``): live pushes and resync by sequence.

The handshake needs a logged-in user (session cookie) with a membership in the
tenant (``?tenant=<slug>`` when they have several); anyone else is refused
before ``accept()``. The consumer joins ``tenant.<id>.console`` (see
``chat.realtime``) and forwards the events of the threads the agent may read
(their queues' channels; every channel for administrators). Writes from the
console go through the REST API, except typing, seen and replies (``send``),
which are frequent. Protocol: ``chat.console.protocol``, docs/agent-protocol.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import inbox, realtime, selectors, services
from chat.api.replies import Reply, areply_send, reply_send
from chat.api.serializers import MessageSerializer
from chat.console import protocol
from chat.console.attendance import attendance
from chat.console.rendering import console_dumps, datetimes_in_utc, rendered_message_data
from chat.models import Message
from chat.snapshots import usable_snapshot
from engage.errors import ParleyError
from engage.lib import jsontext, loops
from engage.lib.consumers import PumpedConsumerMixin, WorkerDatabaseMixin, in_worker
from engage.models import Membership
from engage.selectors import memberships_of

logger = logging.getLogger(__name__)

ALWAYS_FORWARDED = {"presence.changed", "customer.updated"}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def same_origin(scope: dict[str, Any]) -> bool:
    """The session cookie authenticates the socket, so only Parley's own pages may open it.

    A browser always sends Origin on a WebSocket; it must name this host (or a
    trusted origin). Non-browser clients without Origin carry no ambient cookie risk.
    """
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host") or ""
    if urlsplit(origin).netloc.lower() == host.lower():
        return True
    return origin.rstrip("/") in {trusted.rstrip("/") for trusted in settings.CSRF_TRUSTED_ORIGINS}


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


@in_worker
def _membership(user: Any, tenant_slug: str | None) -> Membership | None:
    memberships = memberships_of(user=user)
    if tenant_slug:
        memberships = memberships.filter(tenant__slug=tenant_slug)
    found = list(memberships[:2])
    return found[0] if len(found) == 1 else None


@in_worker
def _readable(agent: Membership) -> set[int]:
    return inbox.readable_channel_ids(agent=agent)


@in_worker
def _rights_now(agent: Membership) -> tuple[str, set[int]] | None:
    """The membership's role and readable channels as they are now; None once it is gone (or its
    tenant deactivated)."""
    current = memberships_of(user=agent.user).filter(pk=agent.pk).first()
    if current is None:
        return None
    return current.role, inbox.readable_channel_ids(agent=current)


@in_worker
def _message(message_id: int, tenant_id: int) -> dict[str, Any] | None:
    message = selectors.first_with_attachments(
        Message.objects.filter(pk=message_id, tenant_id=tenant_id).select_related("author_agent__user")
    )
    return MessageSerializer(message).data if message is not None else None


async def _message_data(event: dict[str, Any], tenant_id: int, utc: bool) -> dict[str, Any] | None:
    """The pushed message as the REST API shows it: rendered from the event's snapshot when it
    has one (no model instances, no database work, no thread hop; once per process), else read back."""
    snapshot = usable_snapshot(event, tenant_id)
    if snapshot is None:
        return await _message(event["message_id"], tenant_id)
    return rendered_message_data(snapshot, tenant_id, utc=utc)


@in_worker
def _resync(agent: Membership, frame: protocol.Resync) -> list[dict[str, Any]]:
    frames = []
    for thread_id, after in frame.threads.items():
        try:
            thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        except ParleyError as error:
            frames.append(
                protocol.error_frame(code=error.code, message=f"Thread {thread_id}: {error.message}", ref=frame.ref)
            )
            continue
        page = selectors.messages_after(
            thread=thread, after_sequence=after, limit=protocol.RESYNC_PAGE + 1, for_customer=False
        )
        frames.append(
            protocol.messages_frame(
                thread_id=thread.pk,
                messages=list(MessageSerializer(page[: protocol.RESYNC_PAGE], many=True).data),
                last_sequence=thread.last_sequence,
                has_more=len(page) > protocol.RESYNC_PAGE,
                ref=frame.ref,
            )
        )
    return frames


@in_worker
def _typing(agent: Membership, frame: protocol.Typing) -> dict[str, Any]:
    thread = inbox.thread_for_agent(agent=agent, thread_id=frame.thread_id)
    inbox.thread_check_reply(agent=agent, thread=thread)
    services.typing_set(thread=thread, actor="agent", is_typing=frame.is_typing, agent=agent)
    return protocol.ack_frame(ref=frame.ref)


@in_worker
def _seen(agent: Membership, frame: protocol.Seen) -> dict[str, Any]:
    thread = inbox.thread_for_agent(agent=agent, thread_id=frame.thread_id)
    marked = services.messages_mark_seen(thread=thread, reader="agent", up_to_sequence=frame.up_to_sequence)
    return protocol.ack_frame(ref=frame.ref, marked=marked)


def _reply_of(frame: protocol.Send) -> Reply:
    return Reply(
        text=frame.text,
        content_type=frame.content_type,
        content=frame.content,
        client_id=frame.client_id,
        is_internal=frame.is_internal,
        attachment_ids=frame.attachment_ids,
    )


async def _reply(agent: Membership, frame: protocol.Send, utc: bool) -> dict[str, Any]:
    """The REST reply's checks and write (docs/agent-protocol.md, ``send``): in the event loop
    when they can be (``areply_send``), else in one worker call."""
    done = await areply_send(
        agent=agent, thread_id=frame.thread_id, reply=_reply_of(frame), recheck_agent=True, utc=utc
    )
    if done is None:
        done = await in_worker(reply_send)(
            agent=agent, thread_id=frame.thread_id, reply=_reply_of(frame), recheck_agent=True
        )
    message, created = done
    return protocol.sent_frame(thread_id=frame.thread_id, message=message, created=created, ref=frame.ref)


# Replies of one console socket written at the same time (docs/agent-protocol.md, "Replies").
REPLIES_IN_FLIGHT = 32


class ConsoleConsumer(PumpedConsumerMixin, WorkerDatabaseMixin, AsyncWebsocketConsumer):
    channel_prefix = "console."  # CHANNEL_LAYER_CONSOLE_CAPACITY: a console carries its whole tenant
    agent: Membership | None = None
    group: str | None = None
    closing = False
    gone = False  # the client left: nothing more is sent
    utc = True  # datetimes_in_utc() in this socket's context, asked when it opens
    channels_readable: set[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replies_in_flight: set[asyncio.Task[None]] = set()
        self._last_reply: dict[Any, asyncio.Task[None]] = {}
        self._rights_check: asyncio.Future[None] | None = None  # a read of the rights under way
        self._rights_again = False  # another change came meanwhile: read them once more

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not same_origin(self.scope):
            await self.close(code=protocol.CLOSE_NOT_MEMBER)
            return
        agent = await _membership(user, _query(self.scope).get("tenant"))
        if agent is None:
            await self.close(code=protocol.CLOSE_NOT_MEMBER)
            return
        self.agent = agent
        self.utc = datetimes_in_utc()
        self.group = realtime.tenant_console_group(agent.tenant_id)
        # Join before anything is read, so nothing committed later can be missed (a change of
        # the agent's rights included: ``access.changed`` reads them again).
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.channels_readable = await _readable(agent)
        await attendance().opened(agent, self.channel_name)
        await self.accept()
        await self._send(
            protocol.welcome_frame(
                agent={"id": agent.pk, "name": agent.display_name, "role": agent.role, "presence": agent.presence},
                tenant={"id": agent.tenant_id, "slug": agent.tenant.slug, "name": agent.tenant.name},
            )
        )

    async def disconnect(self, code: int) -> None:
        self.gone = True  # replies still in flight finish their write; their answers are dropped
        try:
            if self.group:
                await self.channel_layer.group_discard(self.group, self.channel_name)
        finally:
            await attendance().closed(self.channel_name)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send_text(console_dumps(frame))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Once closing, unanswered sends are the client's to retry (same client id) after it reconnects.
        if self.agent is None or self.closing:
            return
        raw = None if text_data is None else text_data.encode()
        if raw is None or len(raw) > protocol.MAX_FRAME_BYTES:
            await self._send(protocol.error_frame(code="invalid_frame", message="Send JSON text up to 64 KiB."))
            return
        try:
            frame = protocol.parse_client_frame(jsontext.loads(raw, text_data))  # json.loads', by orjson
        except json.JSONDecodeError:
            await self._send(protocol.error_frame(code="invalid_frame", message="The frame is not JSON."))
            return
        except protocol.ProtocolError as error:
            await self._send(protocol.error_frame(code=error.code, message=error.message, ref=error.ref))
            return
        try:
            await self._handle(frame)
        except ParleyError as error:
            await self._send(protocol.error_frame(code=error.code, message=error.message, ref=frame.ref))

    async def _handle(self, frame: protocol.ClientFrame) -> None:
        assert self.agent is not None
        if isinstance(frame, protocol.Ping):
            await self._send(protocol.pong_frame(ref=frame.ref))
        elif isinstance(frame, protocol.Resync):
            for reply in await _resync(self.agent, frame):
                await self._send(reply)
            await self._send(protocol.resynced_frame(ref=frame.ref))
        elif isinstance(frame, protocol.Typing):
            await self._send(await _typing(self.agent, frame))
        elif isinstance(frame, protocol.Seen):
            await self._send(await _seen(self.agent, frame))
        elif isinstance(frame, protocol.Send):
            await self._reply_soon(frame)

    async def _reply_soon(self, frame: protocol.Send) -> None:
        """Starts a reply without holding up the socket's other work.

        One console socket carries every event of the tenant; while a reply waits
        on the database, the socket goes on forwarding events and answering other
        frames. Replies to one thread are written in the order they came; at most
        ``REPLIES_IN_FLIGHT`` run at once: then the socket's next frame is handled once
        one of them is done (``read_gate``), while events keep being forwarded.
        Waiting here instead held the consumer's turn, and with it every push to
        the console, for as long as the slowest reply took (docs/performance.md,
        "Twelfth session").
        """
        in_flight = self._replies_in_flight
        previous = self._last_reply.get(frame.thread_id)
        task = asyncio.ensure_future(self._reply_in_order(previous, frame))
        in_flight.add(task)
        self._last_reply[frame.thread_id] = task
        if len(in_flight) >= REPLIES_IN_FLIGHT and self.read_gate is None:
            self.read_gate = asyncio.get_running_loop().create_future()

        def done(finished: asyncio.Task[None], thread_id: Any = frame.thread_id) -> None:
            in_flight.discard(finished)
            if self._last_reply.get(thread_id) is finished:
                del self._last_reply[thread_id]
            gate = self.read_gate
            if gate is not None and len(in_flight) < REPLIES_IN_FLIGHT:
                self.read_gate = None
                gate.set_result(None)

        task.add_done_callback(done)

    async def _reply_in_order(self, previous: asyncio.Task[None] | None, frame: protocol.Send) -> None:
        assert self.agent is not None
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        if self.closing or self.gone:
            return  # unanswered: the client sends it again (same client id) once reconnected
        try:
            answer = await _reply(self.agent, frame, self.utc)
        except inbox.MembershipChanged:
            # The rights read at connect are stale: the console reconnects (reading them
            # again), and sends the unanswered reply over REST, which reads them afresh.
            if not (self.closing or self.gone):
                self.closing = True
                await self.close(code=protocol.CLOSE_MEMBERSHIP_CHANGED)
            return
        except ParleyError as error:
            answer = protocol.error_frame(code=error.code, message=error.message, ref=frame.ref)
        except Exception:
            logger.exception("console: reply to thread %s failed", frame.thread_id)
            answer = protocol.error_frame(code="server_error", message="Internal error; send it again.", ref=frame.ref)
        if not self.gone:
            await self._send(answer)

    async def _rights_changed(self) -> None:
        """Queues, channels or roles of the tenant changed: when this agent's role or readable
        channels differ from those read at connect, the console reconnects (4409) and reads
        its lists again; the socket cannot tell the client which threads came or went.

        The rights are read outside the consumer's turn, one read at a time: changes that come
        while one is under way (a bulk delete in Django admin sends one per row) make one more
        read once it is done, not one each."""
        if self._rights_check is not None:
            self._rights_again = True
            return
        self._rights_check = loops.start(self._check_rights())

    async def _check_rights(self) -> None:
        assert self.agent is not None
        try:
            while True:
                self._rights_again = False
                rights = await _rights_now(self.agent)
                if self.closing or self.gone:
                    return
                if rights != (self.agent.role, self.channels_readable):
                    self.closing = True
                    await self.close(code=protocol.CLOSE_MEMBERSHIP_CHANGED)
                    return
                if not self._rights_again:
                    return
        except Exception:
            logger.exception("console: could not read the rights of membership %s again", self.agent.pk)
        finally:
            self._rights_check = None

    async def layer_overflow(self, message: dict[str, Any]) -> None:
        """The channel layer dropped events for this slow socket: close it on purpose.

        The console reconnects and resyncs every thread it holds by sequence, so
        nothing is lost (docs/performance.md, "Channel layers"); 1013 is "try again later".
        """
        if self.closing:  # a second notice while closing: closing twice is an ASGI error
            return
        logger.warning("console: channel layer overflow (%s); closing for a resync", message.get("reason"))
        self.closing = True  # frames and events still queued for this socket are not worked on
        await self.close(code=1013)

    async def chat_event(self, message: dict[str, Any]) -> None:
        """A domain event from ``chat.realtime``: forward it if the agent may read its thread."""
        assert self.agent is not None
        if self.closing:
            return
        event, tenant_id = message["event"], self.agent.tenant_id
        if event.get("tenant_id") != tenant_id:
            return
        name = event.get("event")
        if name == "access.changed":
            await self._rights_changed()
            return
        if name not in ALWAYS_FORWARDED and event.get("channel_id") not in self.channels_readable:
            return
        if name == "message.created":
            data = await _message_data(event, tenant_id, self.utc)
            if data is not None:
                await self._send(protocol.message_frame(thread_id=event["thread_id"], message=data))
            return
        await self._send(protocol.event_frame(event=event))
