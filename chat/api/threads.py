"""Agent API: threads and their messages. See docs/console.md."""

from __future__ import annotations

import functools

from django.db.models import OuterRef, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from chat import inbox, search, selectors, services
from chat.api.access import agent_for
from chat.api.permissions import AgentAPIView, AgentListAPIView
from chat.api.replies import Reply, reply_send
from chat.api.serializers import (
    MessageInputSerializer,
    MessagePageSerializer,
    MessageSerializer,
    NoteInputSerializer,
    SeenInputSerializer,
    ThreadDetailSerializer,
    ThreadRefSerializer,
    TypingInputSerializer,
)
from chat.models import Contact, Message, Thread
from engage.errors import Conflict, InvalidInput

MAX_PAGE = 200


def _int_param(
    request: Request, name: str, default: int | None, *, low: int = 0, high: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number.") from None
    if value < low or (high is not None and value > high):
        raise InvalidInput(f"{name} must be between {low} and {high}.")
    return value


def thread_detail_data(*, agent, thread: Thread) -> dict:
    contact = selectors.contact_current(thread=thread)
    if contact is not None:
        contact = Contact.objects.select_related("queue", "assigned_agent__user").get(pk=contact.pk)
    past = inbox.past_threads(agent=agent, thread=thread)
    return ThreadDetailSerializer(thread, context={"contact": contact, "past_threads": past}).data


class ThreadListView(AgentListAPIView):
    """Threads the agent may read, newest activity first; ``q`` searches customer and thread names."""

    serializer_class = ThreadRefSerializer

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("channel", int)])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        agent = agent_for(self.request)
        threads = Thread.objects.filter(tenant_id=agent.tenant_id, channel__in=inbox.readable_channel_ids(agent=agent))
        channel = _int_param(self.request, "channel", None)
        if channel is not None:
            threads = threads.filter(channel_id=channel)
        q = (self.request.query_params.get("q") or "").strip()
        if q:
            threads = threads.filter(search.thread_match(q, tenant_id=agent.tenant_id))
        latest = Contact.objects.filter(thread_id=OuterRef("pk")).order_by("-created_at").values("status")[:1]
        return (
            threads.select_related("channel", "customer")
            .annotate(latest_status=Subquery(latest))
            .order_by("-last_message_at", "-pk")
        )


class ThreadDetailView(AgentAPIView):
    """One thread: customer identity, visitor context, the current contact and past threads."""

    @extend_schema(responses=ThreadDetailSerializer)
    def get(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        return Response(thread_detail_data(agent=agent, thread=thread))


@functools.cache
def _reply_input() -> MessageInputSerializer:
    """Built once: DRF builds a serializer's fields for every instance (about 0.2 ms here), while
    ``run_validation`` keeps no state; it raises the ValidationError ``is_valid`` would."""
    return MessageInputSerializer()


class ThreadMessagesView(AgentAPIView):
    """Messages by sequence: ``after`` (resync, oldest first) or ``before`` (older pages)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Messages with a higher sequence (resync)."),
            OpenApiParameter("before", int, description="Messages with a lower sequence (older page)."),
            OpenApiParameter("limit", int, description=f"1 to {MAX_PAGE}, default 50."),
        ],
        responses=MessagePageSerializer,
    )
    def get(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        limit = _int_param(request, "limit", 50, low=1, high=MAX_PAGE) or 50
        after = _int_param(request, "after", None)
        before = _int_param(request, "before", None)
        if after is not None and before is not None:
            raise InvalidInput("Give after or before, not both.")
        if after is not None:
            page = selectors.messages_after(thread=thread, after_sequence=after, limit=limit + 1, for_customer=False)
            has_more = len(page) > limit
            page = page[:limit]
        else:
            page = selectors.messages_before(thread=thread, before_sequence=before, limit=limit + 1, for_customer=False)
            has_more = len(page) > limit
            page = page[-limit:] if has_more else page
        return Response(
            {
                "results": MessageSerializer(page, many=True).data,
                "has_more": has_more,
                "last_sequence": thread.last_sequence,
            }
        )

    @extend_schema(request=MessageInputSerializer, responses={201: MessageSerializer, 200: MessageSerializer})
    def post(self, request: Request, thread_id: int) -> Response:
        """Sends a reply (or, with ``is_internal``, a note). A repeated ``client_id`` returns the original."""
        agent = agent_for(request)
        values = _reply_input().run_validation(request.data)
        reply = Reply(
            text=values.get("text", ""),
            content_type=values["content_type"],
            content=values.get("content"),
            client_id=values.get("client_id"),
            is_internal=values["is_internal"],
            attachment_ids=values.get("attachment_ids") or (),
        )
        message, created = reply_send(agent=agent, thread_id=thread_id, reply=reply)
        return Response(message, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ThreadNotesView(AgentAPIView):
    """An internal note: agents and administrators see it; the customer never does."""

    @extend_schema(request=NoteInputSerializer, responses={201: MessageSerializer})
    def post(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.message_create(
            thread=thread,
            author_type=Message.Author.AGENT,
            content={"text": data.validated_data["text"]},
            client_id=data.validated_data.get("client_id"),
            agent=agent,
            is_internal=True,
        )
        return Response(
            MessageSerializer(result.message).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ThreadLockView(AgentAPIView):
    """Locks (``lock``) or unlocks (``unlock``) a messaging thread."""

    locked = True

    @extend_schema(request=None, responses=ThreadDetailSerializer)
    def post(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        if thread.channel.is_live_chat:
            raise Conflict("Live chats are ended, not locked.", code="not_messaging")
        contact = selectors.contact_current(thread=thread)
        if contact is not None and contact.is_open:
            inbox.contact_check_actor(agent=agent, contact=contact)
        thread = services.thread_set_locked(thread=thread, locked=self.locked, by=agent)
        return Response(thread_detail_data(agent=agent, thread=thread))


class ThreadTypingView(AgentAPIView):
    """Tells the customer the agent started or stopped typing (only an agent who may reply)."""

    @extend_schema(request=TypingInputSerializer, responses={204: None})
    def post(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        data = TypingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        inbox.thread_check_reply(agent=agent, thread=thread)
        services.typing_set(thread=thread, actor="agent", is_typing=data.validated_data["is_typing"], agent=agent)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThreadSeenView(AgentAPIView):
    """Marks the customer's messages seen by the agents, up to a sequence (default: all)."""

    @extend_schema(request=SeenInputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, thread_id: int) -> Response:
        agent = agent_for(request)
        thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
        data = SeenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = services.messages_mark_seen(
            thread=thread, reader="agent", up_to_sequence=data.validated_data.get("up_to_sequence")
        )
        return Response({"marked": changed})
