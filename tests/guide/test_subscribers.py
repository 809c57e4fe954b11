from __future__ import annotations

import pytest

from chat import services
from chat.models import Thread
from tests.factories.guide import variable_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_thread_the_visitor_starts_carries_identity_initiated_thread(acme) -> None:
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor)
    services.message_create(thread=thread, author_type="customer", content={"text": "Hello"}, client_id="m1")
    services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content={"text": "Hi"}, client_id="m2"
    )
    assert Thread.objects.get(pk=thread.pk).context == {"identity_initiated_thread": True}


def test_a_thread_an_agent_starts_does_not(acme) -> None:
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor)
    services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content={"text": "Hi"}, client_id="a1"
    )
    services.message_create(thread=thread, author_type="customer", content={"text": "Hello"}, client_id="m1")
    assert Thread.objects.get(pk=thread.pk).context == {}


def test_custom_variables_reach_open_threads_with_their_labels(acme, globex) -> None:
    variable_create(acme.live, name="plan", label="Plan", source="query_parameter", key="plan")
    variable_create(acme.live, name="internal", label="Internal", show_to_agents=False)
    variable_create(globex.messaging, name="cart", label="Globex cart")
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor)
    services.message_create(thread=thread, author_type="customer", content={"text": "Hello"}, client_id="m1")
    services.customer_update(customer=acme.visitor, values={"extra": {"plan": "pro", "internal": "x", "cart": "3"}})
    assert Thread.objects.get(pk=thread.pk).context == {
        "identity_initiated_thread": True,
        "customVariables": [{"name": "plan", "label": "Plan", "value": "pro"}],
    }
