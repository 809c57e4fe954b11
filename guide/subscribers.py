"""Subscribers of the guide app (registered in ``GuideConfig.ready``): what agents see.

- The custom variables a visitor's page reported (StoreVisitor, kept on the
  customer as extra values) reach the context of the customer's open threads,
  labelled as defined in admin, for the console's context panel.
"""

from __future__ import annotations

from chat import events, services
from chat.models import Contact, Customer, Thread
from engage.events import subscribe
from engage.models import Channel
from guide.models import CustomVariable

WEB_KINDS = (Channel.Kind.MESSAGING, Channel.Kind.LIVE_CHAT)


def register() -> None:
    subscribe(events.CustomerUpdated, threads_share_custom_variables)


def threads_share_custom_variables(event: events.CustomerUpdated) -> None:
    customer = Customer.objects.filter(pk=event.customer_id, tenant_id=event.tenant_id).first()
    if customer is None or not customer.extra:
        return
    definitions = CustomVariable.objects.filter(
        tenant_id=event.tenant_id, show_to_agents=True, name__in=list(customer.extra)
    )
    shared = [
        {"name": variable.name, "label": variable.label, "value": str(customer.extra[variable.name])}
        for variable in definitions.order_by("name")
    ]
    if not shared:
        return
    threads = Thread.objects.filter(
        customer=customer,
        tenant_id=event.tenant_id,
        channel__kind__in=WEB_KINDS,
        contacts__status__in=Contact.OPEN_STATUSES,
    ).distinct()
    for thread in threads:
        services.thread_update_context(thread=thread, context={"customVariables": shared})
