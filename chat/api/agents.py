"""Agent API: presence, the team, queues, customers, canned responses, custom fields, attachments."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from chat import assignment, canned, inbox, selectors, services
from chat.api.access import agent_for
from chat.api.permissions import AgentAPIView, AgentListAPIView
from chat.api.serializers import (
    AgentSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CannedResponseSerializer,
    CustomerInputSerializer,
    CustomerSerializer,
    CustomFieldDefinitionSerializer,
    PresenceSerializer,
    QueueSerializer,
)
from chat.models import Attachment, CannedResponse, Customer, Thread
from engage.errors import InvalidInput, NotFound
from engage.models import Channel, CustomFieldDefinition, Membership, RoutingQueue
from engage.services import membership_set_presence


def _presence_data(agent: Membership) -> dict:
    """My presence and load, and what visitors of my channels are told (``channel_availability``)."""
    channels = Channel.objects.filter(pk__in=inbox.readable_channel_ids(agent=agent)).order_by("pk")
    return {
        "presence": agent.presence,
        "max_concurrent_contacts": agent.max_concurrent_contacts,
        "load": assignment.agent_loads(agent_ids=[agent.pk])[agent.pk],
        "channels": [
            {"id": channel.pk, "name": channel.name, "availability": selectors.channel_availability(channel)}
            for channel in channels
        ],
    }


class PresenceView(AgentAPIView):
    """My presence (available, away, offline), capacity and current load."""

    @extend_schema(responses=PresenceSerializer)
    def get(self, request: Request) -> Response:
        return Response(_presence_data(agent_for(request)))

    @extend_schema(request=PresenceSerializer, responses=PresenceSerializer)
    def put(self, request: Request) -> Response:
        agent = agent_for(request)
        data = PresenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = membership_set_presence(
            membership=agent,
            presence=data.validated_data.get("presence"),
            max_concurrent_contacts=data.validated_data.get("max_concurrent_contacts"),
        )
        return Response(_presence_data(agent))


class AgentListView(AgentListAPIView):
    """The tenant's agents with presence and load (transfer targets)."""

    serializer_class = AgentSerializer
    pagination_class = None

    def get_queryset(self):
        agent = agent_for(self.request)
        return list(_with_loads(Membership.objects.filter(tenant_id=agent.tenant_id).select_related("user")))


def _with_loads(members) -> list[Membership]:
    members = list(members)
    loads = assignment.agent_loads(agent_ids=[member.pk for member in members])
    for member in members:
        member.load = loads[member.pk]
    return members


class QueueListView(AgentListAPIView):
    serializer_class = QueueSerializer
    pagination_class = None

    def get_queryset(self):
        return RoutingQueue.objects.filter(tenant_id=agent_for(self.request).tenant_id).order_by("-priority", "name")


class CustomFieldListView(AgentListAPIView):
    """Custom field definitions of the tenant (customer and contact scope)."""

    serializer_class = CustomFieldDefinitionSerializer
    pagination_class = None

    def get_queryset(self):
        return CustomFieldDefinition.objects.filter(tenant_id=agent_for(self.request).tenant_id)


def _customer(agent: Membership, customer_id: int) -> Customer:
    readable = Thread.objects.filter(channel__in=inbox.readable_channel_ids(agent=agent)).values("customer_id")
    customer = Customer.objects.filter(tenant_id=agent.tenant_id, pk=customer_id, pk__in=readable).first()
    if customer is None:
        raise NotFound("Unknown customer.", code="customer_not_found")
    return customer


class CustomerDetailView(AgentAPIView):
    """A customer: names, e-mail, identity (verified or anonymous), extra values, custom fields."""

    @extend_schema(responses=CustomerSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        return Response(CustomerSerializer(_customer(agent_for(request), customer_id)).data)

    @extend_schema(request=CustomerInputSerializer, responses=CustomerSerializer)
    def patch(self, request: Request, customer_id: int) -> Response:
        customer = _customer(agent_for(request), customer_id)
        data = CustomerInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        custom_fields = values.pop("custom_fields", None)
        customer = services.customer_update(customer=customer, values=values, custom_fields=custom_fields)
        return Response(CustomerSerializer(customer).data)


class CannedResponseListView(AgentAPIView):
    """Canned responses of the tenant; administrators add them."""

    @extend_schema(responses=CannedResponseSerializer(many=True))
    def get(self, request: Request) -> Response:
        agent = agent_for(request)
        responses = CannedResponse.objects.filter(tenant_id=agent.tenant_id).order_by("title")
        q = (request.query_params.get("q") or "").strip().lstrip("/")
        if q:
            responses = responses.filter(shortcut__startswith=q.lower()) | responses.filter(title__icontains=q)
        return Response(CannedResponseSerializer(responses, many=True).data)

    @extend_schema(request=CannedResponseSerializer, responses={201: CannedResponseSerializer})
    def post(self, request: Request) -> Response:
        response = canned.canned_response_create(by=agent_for(request), values=_mapping(request.data))
        return Response(CannedResponseSerializer(response).data, status=status.HTTP_201_CREATED)


def _mapping(data) -> dict:
    if not hasattr(data, "keys"):
        raise InvalidInput("Send a JSON object.")
    return {key: data[key] for key in data}


class CannedResponseDetailView(AgentAPIView):
    @extend_schema(responses=CannedResponseSerializer)
    def get(self, request: Request, response_id: int) -> Response:
        response = canned.canned_response_get(by=agent_for(request), response_id=response_id)
        return Response(CannedResponseSerializer(response).data)

    @extend_schema(request=CannedResponseSerializer, responses=CannedResponseSerializer)
    def patch(self, request: Request, response_id: int) -> Response:
        agent = agent_for(request)
        response = canned.canned_response_get(by=agent, response_id=response_id)
        response = canned.canned_response_update(by=agent, response=response, values=_mapping(request.data))
        return Response(CannedResponseSerializer(response).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, response_id: int) -> Response:
        agent = agent_for(request)
        canned.canned_response_delete(by=agent, response=canned.canned_response_get(by=agent, response_id=response_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentUploadView(AgentAPIView):
    """Uploads a file for a reply on a thread, within its channel's size and type limits.

    Send it with the message: ``attachment_ids`` in POST …/messages/.
    """

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: AttachmentSerializer})
    def post(self, request: Request) -> Response:
        agent = agent_for(request)
        data = AttachmentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        thread = inbox.thread_for_agent(agent=agent, thread_id=data.validated_data["thread_id"])
        upload = data.validated_data["file"]
        limit = thread.channel.max_file_size_mb * 1024 * 1024
        content = upload.read(limit + 1)
        attachment = services.attachment_create(
            channel=thread.channel,
            file_name=upload.name,
            mime_type=upload.content_type or "",
            data=content,
            agent=agent,
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDetailView(AgentAPIView):
    """An attachment of a thread the agent may read, with a fresh signed URL (``?download=1`` redirects)."""

    @extend_schema(responses=AttachmentSerializer)
    def get(self, request: Request, attachment_id: str) -> Response | HttpResponseRedirect:
        agent = agent_for(request)
        channels = inbox.readable_channel_ids(agent=agent)
        attachment = Attachment.objects.filter(
            tenant_id=agent.tenant_id, public_id=attachment_id, channel_id__in=channels
        ).first()
        if attachment is None:
            raise NotFound("Unknown attachment.", code="attachment_not_found")
        data = AttachmentSerializer(attachment).data
        if request.query_params.get("download"):
            return HttpResponseRedirect(data["url"])
        return Response(data)
