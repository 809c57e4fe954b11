"""Agent API: contacts (cases) — the inbox and every action on a contact."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chat import assignment, inbox, services
from chat.api.access import agent_for
from chat.api.permissions import AgentAPIView, AgentListAPIView
from chat.api.serializers import (
    AssignInputSerializer,
    ContactSerializer,
    CustomFieldsInputSerializer,
    StatusInputSerializer,
    TransferInputSerializer,
)
from chat.models import Contact
from engage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engage.models import Membership, RoutingQueue


def _optional_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number.") from None


def _contact_data(agent: Membership, contact: Contact) -> dict:
    reloaded = inbox.contact_for_agent(agent=agent, contact_id=contact.pk)
    return ContactSerializer(reloaded).data


def _member(agent: Membership, agent_id: int) -> Membership:
    member = Membership.objects.filter(tenant_id=agent.tenant_id, pk=agent_id).select_related("user").first()
    if member is None:
        raise NotFound("Unknown agent.", code="agent_not_found")
    return member


def _contact_to_act_on(request: Request, contact_id: int) -> tuple[Membership, Contact]:
    """The requesting agent and the contact they may act on (a foreign or unknown one is 404)."""
    agent = agent_for(request)
    contact = inbox.contact_for_agent(agent=agent, contact_id=contact_id)
    inbox.contact_check_actor(agent=agent, contact=contact)
    return agent, contact


class ContactListView(AgentListAPIView):
    """The inbox: ``view`` is mine, queue, all (administrators), resolved or closed."""

    serializer_class = ContactSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("view", str, enum=list(inbox.VIEWS), description="Default: mine."),
            OpenApiParameter("q", str, description="Searches customer names, e-mail, ids and thread names."),
            OpenApiParameter("channel", int),
            OpenApiParameter("queue", int),
            OpenApiParameter("agent", int),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        agent = agent_for(self.request)
        filters = inbox.InboxFilter(
            view=self.request.query_params.get("view") or "mine",
            q=self.request.query_params.get("q") or "",
            channel_id=_optional_int(self.request, "channel"),
            queue_id=_optional_int(self.request, "queue"),
            agent_id=_optional_int(self.request, "agent"),
        )
        return inbox.contacts_inbox(agent=agent, filters=filters)


class InboxCountsView(AgentAPIView):
    """Badge numbers: my open contacts, contacts waiting in my queues, my unread threads."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(inbox.inbox_counts(agent=agent_for(request)))


class ContactDetailView(AgentAPIView):
    @extend_schema(responses=ContactSerializer)
    def get(self, request: Request, contact_id: int) -> Response:
        agent = agent_for(request)
        return Response(ContactSerializer(inbox.contact_for_agent(agent=agent, contact_id=contact_id)).data)


class ContactAssignView(AgentAPIView):
    """Accepts a waiting contact (an agent picks it), or an administrator assigns it to ``agent_id``."""

    @extend_schema(request=AssignInputSerializer, responses=ContactSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        agent = agent_for(request)
        contact = inbox.contact_for_agent(agent=agent, contact_id=contact_id)
        data = AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target_id = data.validated_data.get("agent_id")
        if target_id is None or target_id == agent.pk:
            assignment.contact_pick(contact=contact, agent=agent)
        else:
            if not agent.is_admin:
                raise PermissionDenied("Only administrators assign contacts to others.")
            assignment.contact_transfer(contact=contact, by=agent, agent=_member(agent, target_id))
        return Response(_contact_data(agent, contact))


class ContactTransferView(AgentAPIView):
    """Transfers the contact to another agent (who must have room) or into a queue."""

    @extend_schema(request=TransferInputSerializer, responses=ContactSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        agent, contact = _contact_to_act_on(request, contact_id)
        data = TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent_id, queue_id = data.validated_data.get("agent_id"), data.validated_data.get("queue_id")
        if (agent_id is None) == (queue_id is None):
            raise InvalidInput("Give agent_id or queue_id.")
        if agent_id is not None:
            assignment.contact_transfer(contact=contact, by=agent, agent=_member(agent, agent_id))
        else:
            queue = RoutingQueue.objects.filter(tenant_id=agent.tenant_id, pk=queue_id).first()
            if queue is None:
                raise NotFound("Unknown queue.", code="queue_not_found")
            assignment.contact_transfer(contact=contact, by=agent, queue=queue)
        return Response(_contact_data(agent, contact))


class ContactUnassignView(AgentAPIView):
    """Puts the contact back in its queue."""

    @extend_schema(request=None, responses=ContactSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        agent, contact = _contact_to_act_on(request, contact_id)
        assignment.contact_unassign(contact=contact, by=agent)
        return Response(_contact_data(agent, contact))


class ContactStatusView(AgentAPIView):
    """Moves the contact: open, pending, escalated, resolved, closed."""

    @extend_schema(request=StatusInputSerializer, responses=ContactSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        agent, contact = _contact_to_act_on(request, contact_id)
        data = StatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_set_status(contact=contact, status=data.validated_data["status"], by=agent)
        return Response(_contact_data(agent, contact))


class ContactEndView(AgentAPIView):
    """Ends a live chat: the contact is closed and the visitor told so."""

    @extend_schema(request=None, responses=ContactSerializer)
    def post(self, request: Request, contact_id: int) -> Response:
        agent, contact = _contact_to_act_on(request, contact_id)
        if not contact.thread.channel.is_live_chat:
            raise Conflict("Only live chats are ended; resolve or lock a messaging thread.", code="not_live_chat")
        services.contact_set_status(contact=contact, status=Contact.Status.CLOSED, by=agent)
        return Response(_contact_data(agent, contact))


class ContactCustomFieldsView(AgentAPIView):
    """Sets contact custom fields (validated against the tenant's definitions); empty clears."""

    @extend_schema(request=CustomFieldsInputSerializer, responses=ContactSerializer)
    def patch(self, request: Request, contact_id: int) -> Response:
        agent, contact = _contact_to_act_on(request, contact_id)
        data = CustomFieldsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_update_custom_fields(contact=contact, values=data.validated_data["values"], by=agent)
        return Response(_contact_data(agent, contact))
