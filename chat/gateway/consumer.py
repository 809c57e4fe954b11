"""The visitor WebSocket: the CXone Chat Web SDK 2.2.0 gateway protocol over Django Channels.

A connection is authenticated at the upgrade (channel, Origin, transaction
token or legacy customer id) and refused before ``accept()`` otherwise, so the
SDK reports an authorization failure instead of reconnecting in a loop. Every
request frame gets an answer: its response, or an error frame; the heartbeat
gets the JSON string ``"pong"``. Pushes arrive from the realtime groups
(``chat.realtime``) and are mapped in ``chat.gateway.pushes``.
See docs/visitor-protocol.md.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat.gateway.handlers import HANDLERS, IN_LOOP, customer_bind
from chat.gateway.handlers.large import RENDERERS, LargeAnswer, large_answer_text
from chat.gateway.large_events import large_event_store
from chat.gateway.protocol import (
    MAX_OUTBOUND_FRAME_BYTES,
    PONG,
    ClientFrame,
    Heartbeat,
    ProtocolError,
    cxone_dumps,
    cxone_error,
    cxone_event_in_s3,
    cxone_frame_type,
    cxone_parse_frame,
)
from chat.gateway.pushes import push_frames, resync_frames
from chat.gateway.sessions import channel_cached, handshake_accept
from chat.gateway.state import ConnectionState
from engage.errors import ParleyError
from engage.lib.cached_settings import setting
from engage.lib.consumers import WORKERS, PumpedConsumerMixin, WorkerDatabaseMixin, in_loop_or_worker, in_worker
from engage.models import Channel

logger = logging.getLogger(__name__)


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _base_url(scope: dict[str, Any]) -> str:
    """Where this client reached Parley over HTTP(S); large-event links point there."""
    host = _header(scope, b"host")
    if not host:
        return settings.PUBLIC_URL
    forwarded = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip()
    secure = scope.get("scheme") == "wss" or forwarded == "https"
    return f"{'https' if secure else 'http'}://{host}"


class VisitorConsumer(PumpedConsumerMixin, WorkerDatabaseMixin, AsyncWebsocketConsumer):
    """One visitor socket. Handlers run one at a time, so ``state`` needs no lock."""

    state: ConnectionState | None = None
    _window_start = 0.0
    _window_count = 0

    def _over_rate(self) -> bool:
        """A fixed window per socket (default 200 requests / 5 s, twice the SDK's own client limit)."""
        limit, seconds = setting("PARLEY_GATEWAY_RATE_LIMIT", (200, 5.0))
        now = time.monotonic()
        if now - self._window_start >= seconds:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > limit

    def _open(self, query: dict[str, str], origin: str | None, cached: Channel | None = None) -> ConnectionState:
        handshake = handshake_accept(query=query, origin=origin, cached=cached)
        state = ConnectionState(
            channel=handshake.channel,
            customer=None,
            legacy_customer_id=handshake.legacy_customer_id,
            visitor_id=handshake.visitor_id,
            base_url=_base_url(self.scope),
            channel_name=self.channel_name,
            layer=self.channel_layer,
        )
        if handshake.customer is not None:
            customer_bind(state, handshake.customer)
        return state

    async def connect(self) -> None:
        query, origin = _query(self.scope), _header(self.scope, b"origin")
        try:
            cached = channel_cached(brand_id=query.get("brandId"), channel_id=query.get("channelId"))
            if cached is not None:
                self.state = self._open(query, origin, cached)  # no database work: no thread hop
            else:
                self.state = await in_worker(self._open)(query, origin)
            await self.state.flush_joins()
        except ParleyError as error:
            logger.info("visitor handshake refused: %s", error.code)
            await self.close()
            return
        except Exception:
            logger.exception("visitor handshake failed")
            await self.close()
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.state is not None:
            await self.state.leave_all()

    async def send_frame(self, frame: dict[str, Any]) -> None:
        text = cxone_dumps(frame)
        if len(text) > MAX_OUTBOUND_FRAME_BYTES // 4 and len(text.encode()) > MAX_OUTBOUND_FRAME_BYTES:
            assert self.state is not None
            url = await sync_to_async(large_event_store, thread_sensitive=False, executor=WORKERS)(
                text, base_url=self.state.base_url
            )
            text = cxone_dumps(cxone_event_in_s3(url, cxone_frame_type(frame)))
        await self.send_text(text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = cxone_parse_frame(text_data if bytes_data is None else bytes_data)
        except ProtocolError as error:
            await self.send_frame(cxone_error(error.event_id, error.event_type, error.message, reason=error.reason))
            return
        if isinstance(frame, Heartbeat):
            await self.send_text(PONG)
            return
        if self._over_rate():
            message = "Too many requests; slow down."
            await self.send_frame(cxone_error(frame.event_id, frame.event_type, message, reason="rate_limited"))
            return
        for answer in await self._answer(frame):
            if isinstance(answer, str):
                await self.send_text(answer)
            else:
                await self.send_frame(answer)

    async def _answer(self, frame: ClientFrame) -> list[dict[str, Any] | str]:
        """The request's answers: frames, and the text of frames rendered apart (``LargeAnswer``)."""
        handler = HANDLERS.get(frame.event_type)
        if handler is None:
            message = f"Unknown event type {frame.event_type!r}."
            return [cxone_error(frame.event_id, frame.event_type, message, reason="unknown_event_type")]
        assert self.state is not None  # frames arrive only after accept()
        try:
            in_loop = IN_LOOP.get(frame.event_type)
            answers = None if in_loop is None else await in_loop(self.state, frame)
            if answers is None:
                answers = await in_worker(handler)(self.state, frame)
            await self.state.flush_joins()
            return [await self._rendered(answer) if isinstance(answer, LargeAnswer) else answer for answer in answers]
        except ParleyError as error:
            return [cxone_error(frame.event_id, frame.event_type, error.message, reason=error.code)]
        except Exception:
            logger.exception("visitor gateway: %s failed", frame.event_type)
            return [cxone_error(frame.event_id, frame.event_type, "Internal error.", reason="server_error")]

    async def _rendered(self, answer: LargeAnswer) -> dict[str, Any] | str:
        """A large answer rendered by a render process (its text), else here in a worker (its frame)."""
        assert self.state is not None
        if RENDERERS.enabled:
            try:
                return await RENDERERS.run(large_answer_text, answer, self.state.base_url)
            except Exception:
                logger.warning(
                    "visitor gateway: %s not rendered apart; rendering it here", answer.event_type, exc_info=True
                )
        return await in_worker(answer.frame)()

    async def chat_event(self, message: dict[str, Any]) -> None:
        """A domain event from a realtime group; mapped to zero or more push frames."""
        state = self.state
        event = message.get("event") or {}
        if state is None or state.customer is None or event.get("customer_id") != state.customer.pk:
            return
        if event.get("channel_id") not in (None, state.channel.pk):
            return  # the customer's group carries the threads of every channel of the brand
        name = event.get("event")
        if name == "thread.created":
            return
        if name == "typing.changed" and event.get("actor") != "agent":
            return
        try:
            if event.get("snapshot") is not None:  # a message: rendered in the loop, without a read
                frames = await in_loop_or_worker(push_frames, state, event)
            else:
                frames = await in_worker(push_frames)(state, event)
        except Exception:
            logger.exception("visitor gateway: push of %s failed", name)
            return
        for frame in frames:
            await self.send_frame(frame)

    async def layer_overflow(self, message: dict[str, Any]) -> None:
        """The channel layer dropped pushes for this socket: resend what it missed, by sequence."""
        if self.state is None or self.state.customer is None:
            return
        logger.warning(
            "visitor gateway: layer overflow (%s), resyncing", message.get("reason") or message.get("dropped")
        )
        try:
            frames = await in_worker(resync_frames)(self.state)
        except Exception:
            logger.exception("visitor gateway: resync failed")
            return
        for frame in frames:
            await self.send_frame(frame)
