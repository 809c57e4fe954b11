"""Wire shapes of the agent API (and of the console socket, which reuses them)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from chat.models import Attachment, CannedResponse, Contact, Customer, Message, Thread
from engage.lib.storage import signed_url
from engage.models import Channel, CustomFieldDefinition, Membership, RoutingQueue


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "channel_id", "name", "kind"]


class AgentRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")

    class Meta:
        model = Membership
        fields = ["id", "name"]


class QueueSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoutingQueue
        fields = ["id", "name", "priority"]


class CustomerRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="full_name")

    class Meta:
        model = Customer
        fields = ["id", "id_on_external_platform", "name", "is_verified"]


class CustomerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "id_on_external_platform",
            "name",
            "first_name",
            "last_name",
            "email",
            "image",
            "is_verified",
            "extra",
            "custom_fields",
            "created_at",
            "last_seen_at",
        ]


class ThreadRefSerializer(serializers.ModelSerializer):
    channel = ChannelSerializer()
    customer = CustomerRefSerializer()

    class Meta:
        model = Thread
        fields = ["id", "public_id", "name", "channel", "customer", "is_locked", "last_sequence", "last_message_at"]


class ContactSerializer(serializers.ModelSerializer):
    thread = ThreadRefSerializer()
    queue = QueueSerializer(allow_null=True)
    assigned_agent = AgentRefSerializer(allow_null=True)
    unread_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Contact
        fields = [
            "id",
            "status",
            "thread",
            "queue",
            "assigned_agent",
            "custom_fields",
            "created_at",
            "status_updated_at",
            "assigned_at",
            "waiting_since",
            "ended_at",
            "unread_count",
        ]


class ContactBriefSerializer(serializers.ModelSerializer):
    queue = QueueSerializer(allow_null=True)
    assigned_agent = AgentRefSerializer(allow_null=True)

    class Meta:
        model = Contact
        fields = ["id", "status", "queue", "assigned_agent", "custom_fields", "created_at", "waiting_since", "ended_at"]


class PastThreadSerializer(serializers.ModelSerializer):
    channel = ChannelSerializer()
    latest_status = serializers.CharField(allow_null=True)

    class Meta:
        model = Thread
        fields = ["id", "public_id", "name", "channel", "created_at", "last_message_at", "latest_status"]


class ThreadDetailSerializer(serializers.ModelSerializer):
    channel = ChannelSerializer()
    customer = CustomerSerializer()
    contact = serializers.SerializerMethodField()
    past_threads = serializers.SerializerMethodField()

    class Meta:
        model = Thread
        fields = [
            "id",
            "public_id",
            "name",
            "channel",
            "customer",
            "is_locked",
            "is_archived",
            "last_sequence",
            "context",
            "created_at",
            "last_message_at",
            "contact",
            "past_threads",
        ]

    def get_contact(self, thread: Thread) -> dict[str, Any] | None:
        contact = self.context.get("contact")
        return ContactBriefSerializer(contact).data if contact is not None else None

    def get_past_threads(self, thread: Thread) -> Any:
        return PastThreadSerializer(self.context.get("past_threads", []), many=True).data


class AttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.SerializerMethodField(help_text="Short-lived signed download URL.")

    class Meta:
        model = Attachment
        fields = ["id", "file_name", "mime_type", "size", "url"]

    def get_url(self, attachment: Attachment) -> str:
        return signed_url(str(attachment.file.name))


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    author_agent = AgentRefSerializer(allow_null=True)
    attachments = AttachmentSerializer(many=True)
    content = serializers.JSONField(help_text="{text, payload, postback, fallbackText}: data, never markup.")

    class Meta:
        model = Message
        fields = [
            "id",
            "thread_id",
            "sequence",
            "client_id",
            "direction",
            "author_type",
            "author_agent",
            "content_type",
            "content",
            "is_internal",
            "created_at",
            "delivered_at",
            "seen_at",
            "attachments",
        ]


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField()
    last_sequence = serializers.IntegerField()


class CannedResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CannedResponse
        fields = ["id", "title", "shortcut", "text", "updated_at"]
        read_only_fields = ["id", "updated_at"]


class CustomFieldDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomFieldDefinition
        fields = ["ident", "label", "scope", "field_type", "required", "is_editable", "choices", "order"]


class AgentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    username = serializers.CharField(source="user.username")
    load = serializers.IntegerField(read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "name",
            "username",
            "role",
            "presence",
            "presence_changed_at",
            "max_concurrent_contacts",
            "load",
        ]


# --- Inputs ---------------------------------------------------------------------


class MessageInputSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    content_type = serializers.ChoiceField(choices=Message.ContentType.choices, default="TEXT")
    content = serializers.DictField(required=False, help_text="Full content for rich types: {text, payload, …}.")
    client_id = serializers.CharField(required=False, max_length=200)
    is_internal = serializers.BooleanField(default=False, help_text="An internal note the customer never sees.")
    attachment_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=10)


class NoteInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=16000)
    client_id = serializers.CharField(required=False, max_length=200)


class StatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Contact.Status.choices)


class AssignInputSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(required=False, help_text="Administrators: assign to this agent. Default: me.")


class TransferInputSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(required=False)
    queue_id = serializers.IntegerField(required=False)


class CustomFieldsInputSerializer(serializers.Serializer):
    values = serializers.DictField(child=serializers.CharField(allow_blank=True, allow_null=True))


class CustomerInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    email = serializers.EmailField(required=False, allow_blank=True)
    extra = serializers.DictField(required=False, child=serializers.CharField(allow_blank=True))
    custom_fields = serializers.DictField(
        required=False, child=serializers.CharField(allow_blank=True, allow_null=True)
    )


class TypingInputSerializer(serializers.Serializer):
    is_typing = serializers.BooleanField()


class SeenInputSerializer(serializers.Serializer):
    up_to_sequence = serializers.IntegerField(required=False, min_value=0)


class ChannelAvailabilitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    availability = serializers.ChoiceField(choices=["online", "offline"], help_text="What visitors are told.")


class PresenceSerializer(serializers.Serializer):
    presence = serializers.ChoiceField(choices=Membership.Presence.choices, required=False)
    max_concurrent_contacts = serializers.IntegerField(required=False, min_value=0, max_value=100)
    load = serializers.IntegerField(read_only=True)
    channels = ChannelAvailabilitySerializer(many=True, read_only=True)


class AttachmentUploadSerializer(serializers.Serializer):
    thread_id = serializers.IntegerField()
    file = serializers.FileField()
