"""Search documents for Elasticsearch (django-elasticsearch-dsl).

Message contents are encrypted in the database, so full-text search over
message text needs the search cluster: each message the customer sees is
indexed (decrypted) by a Celery task after commit
(``chat.tasks.message_index``). Every query is filtered by tenant. Without
``ELASTICSEARCH_URL`` Parley searches customer and thread fields in the
database instead (``chat.search``). See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any, cast

from django_elasticsearch_dsl import Document, fields
from django_elasticsearch_dsl.registries import registry

from chat.models import Message


@registry.register_document
class MessageDocument(Document):
    tenant_id = fields.IntegerField()
    thread_id = fields.IntegerField()
    channel_id = fields.IntegerField()
    sequence = fields.LongField()
    text = fields.TextField()
    direction = fields.KeywordField()
    is_internal = fields.BooleanField()
    created_at = fields.DateField()

    class Index:
        name = "parley-messages"
        settings = {"number_of_shards": 1, "number_of_replicas": 1}

    class Django:
        model = Message
        ignore_signals = True  # indexed by chat.tasks after commit, never in the request

    def prepare(self, message: Message) -> dict[str, Any]:
        content = cast(dict[str, Any], message.content or {})
        return {
            "tenant_id": message.tenant_id,
            "thread_id": message.thread_id,
            "channel_id": message.thread.channel_id,
            "sequence": message.sequence,
            "text": str(content.get("text") or content.get("fallbackText") or ""),
            "direction": message.direction,
            "is_internal": message.is_internal,
            "created_at": message.created_at.isoformat(),
        }

    def get_queryset(self) -> Any:
        return super().get_queryset().select_related("thread")
