"""Model signals of tenancy data that change what agents may read: they publish ``AccessChanged``.

Django admin changes queues, channels and memberships through the ORM, not through a
service, so the signals are where those changes are seen: a save, a delete, a change of a
queue's agents or channels (not ``QuerySet.update`` or bulk operations, which send no
signal). Each publishes after its transaction commits (``engage.events.publish``); the
consoles read their rights once more for a burst of them, not once each.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from engage.events import AccessChanged, publish
from engage.models import Channel, Membership, RoutingQueue

_M2M_DONE = {"post_add", "post_remove", "post_clear"}


def _changed(instance: Any) -> None:
    publish(AccessChanged(tenant_id=instance.tenant_id))


def _links_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    """A queue's agents or channels changed, from either side (``queue.agents.add(…)``, or
    ``membership.queues.set(…)``)."""
    if action in _M2M_DONE:
        _changed(instance)


def _saved(
    sender: Any, instance: Any, created: bool, update_fields: Any = None, raw: bool = False, **kwargs: Any
) -> None:
    """A queue or a channel added (a channel's queues are links, seen above); a membership
    added, or its role changed (a save of its presence alone changes nothing readable). Rows
    loaded from fixtures (``raw``) are not changes of a running tenant."""
    if raw:
        return
    if created or (sender is Membership and (update_fields is None or "role" in update_fields)):
        _changed(instance)


def _deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _changed(instance)


def connect() -> None:
    for through in (RoutingQueue.agents.through, RoutingQueue.channels.through):
        m2m_changed.connect(_links_changed, sender=through, dispatch_uid=f"access-links-{through.__name__}")
    for model in (RoutingQueue, Channel, Membership):
        post_save.connect(_saved, sender=model, dispatch_uid=f"access-saved-{model.__name__}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"access-deleted-{model.__name__}")
