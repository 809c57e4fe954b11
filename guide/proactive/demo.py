"""Proactive engagement of the demo tenant Acme (``manage.py seed_proactive_demo``).

Messaging channel (the demo shop): a chat button on every page, and an
invitation on the third page view or after 20 seconds on the pricing page.
Live-chat channel (/demo/live/): a button with an offline variant and an
invitation, both only if agents are available. Safe to run again.
"""

from __future__ import annotations

from django.db import transaction

from engage.models import Channel, Tenant
from guide.models import ChatButton, Invitation, Trigger, TriggerAction, TriggerCondition


def _trigger(
    channel: Channel, name: str, order: int, conditions: list[dict], actions: list[dict], **options: bool
) -> None:
    trigger, _ = Trigger.objects.update_or_create(
        tenant=channel.tenant, channel=channel, name=name, defaults={"order": order, "is_active": True, **options}
    )
    trigger.conditions.all().delete()
    trigger.actions.all().delete()
    for index, values in enumerate(conditions):
        TriggerCondition.objects.create(trigger=trigger, tenant=channel.tenant, order=index, **values)
    for index, values in enumerate(actions):
        TriggerAction.objects.create(trigger=trigger, tenant=channel.tenant, order=index, **values)


@transaction.atomic
def seed_proactive_demo() -> None:
    acme = Tenant.objects.get(slug="acme")
    messaging = Channel.objects.get(tenant=acme, channel_id="chat_msg")
    live = Channel.objects.get(tenant=acme, channel_id="chat_live")
    button, _ = ChatButton.objects.update_or_create(
        tenant=acme, name="Shop chat", defaults={"online_text": "Chat with us", "offline_enabled": False}
    )
    invitation, _ = Invitation.objects.update_or_create(
        tenant=acme,
        name="Pricing help",
        defaults={
            "online_title": "Choosing a plan?",
            "online_text": "Our tea experts are happy to help you pick the right subscription.",
            "online_accept": "Ask us",
            "dismiss_label": "No thanks",
        },
    )
    _trigger(messaging, "Chat button", 0, [], [{"kind": "showButton", "button": button}])
    _trigger(
        messaging,
        "Third page view",
        1,
        [{"fact": "visit.pageViews", "operator": "gte", "value": "3"}],
        [{"kind": "showInvitation", "invitation": invitation}],
        once_per_visit=True,
    )
    _trigger(
        messaging,
        "20 s on pricing",
        2,
        [
            {"fact": "page.path", "operator": "endsWith", "value": "/pricing/"},
            {"fact": "page.timeOnPage", "operator": "gte", "value": "20"},
        ],
        [{"kind": "showInvitation", "invitation": invitation}],
        once_per_visit=True,
    )
    live_button, _ = ChatButton.objects.update_or_create(
        tenant=acme,
        name="Live support",
        defaults={"online_text": "Chat with an agent", "offline_enabled": True, "offline_text": "Leave us a message"},
    )
    live_invitation, _ = Invitation.objects.update_or_create(
        tenant=acme,
        name="Agents online",
        defaults={
            "online_title": "An agent is free right now",
            "online_text": "Start a live chat: we answer in under a minute.",
            "online_accept": "Start chat",
            "offline_enabled": False,
        },
    )
    _trigger(
        live,
        "Live support when agents are available",
        0,
        [],
        [{"kind": "showInvitation", "invitation": live_invitation}, {"kind": "showButton", "button": live_button}],
        only_if_agents_available=True,
        stop_here=True,
    )
