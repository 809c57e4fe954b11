"""The answer to "execute only if agents are available": a probability in [0, 1].

Today it is 0 or 1: 1 when an agent serving one of the channel's queues is
available and has a free slot (open contacts assigned < capacity). The client
honours any value in between (docs/proactive.md).
"""

from __future__ import annotations

from django.db.models import Count, F, Q

from chat.models import Contact
from engage.models import Channel, Membership


def channel_probability(*, channel: Channel) -> float:
    """1.0 when an agent can take a new conversation on ``channel`` now, else 0.0."""
    free_agents = (
        Membership.objects.filter(
            tenant_id=channel.tenant_id,
            queues__channels=channel,
            presence=Membership.Presence.AVAILABLE,
            max_concurrent_contacts__gt=0,
        )
        .annotate(
            load=Count(
                "assigned_contacts",
                filter=Q(assigned_contacts__status__in=Contact.OPEN_STATUSES),
                distinct=True,
            )
        )
        .filter(load__lt=F("max_concurrent_contacts"))
    )
    return 1.0 if free_agents.exists() else 0.0
