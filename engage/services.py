"""Write use cases of tenancy data: agent presence and capacity.

Each validates, writes in one transaction and publishes an event after commit
(``engage.events``). See docs/console.md.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from engage.errors import InvalidInput
from engage.events import PresenceChanged, publish
from engage.models import Membership

MAX_CAPACITY = 100


def membership_set_presence(
    *, membership: Membership, presence: str | None = None, max_concurrent_contacts: int | None = None
) -> Membership:
    """Sets an agent's presence (available, away, offline) and/or capacity.

    Writes and publishes PresenceChanged (which drives routing and channel
    availability) only when something changed.
    """
    if presence is not None and presence not in Membership.Presence.values:
        raise InvalidInput(f"Presence is one of {', '.join(Membership.Presence.values)}.")
    if max_concurrent_contacts is not None and (
        isinstance(max_concurrent_contacts, bool)
        or not isinstance(max_concurrent_contacts, int)
        or not 0 <= max_concurrent_contacts <= MAX_CAPACITY
    ):
        raise InvalidInput(f"The capacity is a whole number from 0 to {MAX_CAPACITY}.")
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        previous = locked.presence
        fields: list[str] = []
        if presence is not None and presence != locked.presence:
            locked.presence = presence
            locked.presence_changed_at = timezone.now()
            fields += ["presence", "presence_changed_at"]
        if max_concurrent_contacts is not None and max_concurrent_contacts != locked.max_concurrent_contacts:
            locked.max_concurrent_contacts = max_concurrent_contacts
            fields.append("max_concurrent_contacts")
        if not fields:
            return locked
        locked.save(update_fields=fields)
        publish(
            PresenceChanged(
                tenant_id=locked.tenant_id,
                membership_id=locked.pk,
                presence=locked.presence,
                previous_presence=previous,
                max_concurrent_contacts=locked.max_concurrent_contacts,
            )
        )
    membership.presence, membership.presence_changed_at = locked.presence, locked.presence_changed_at
    membership.max_concurrent_contacts = locked.max_concurrent_contacts
    return membership
