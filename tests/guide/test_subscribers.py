from __future__ import annotations

import pytest

from chat import services
from chat.models import Thread
from tests.factories.guide import variable_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_custom_variables_reach_open_threads_with_their_labels(acme, globex) -> None:
    variable_create(acme.live, name="plan", label="Plan", source="query_parameter", key="plan")
    variable_create(acme.live, name="internal", label="Internal", show_to_agents=False)
    variable_create(globex.messaging, name="cart", label="Globex cart")
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor)
    services.message_create(thread=thread, author_type="customer", content={"text": "Hello"}, client_id="m1")
    services.customer_update(customer=acme.visitor, values={"extra": {"plan": "pro", "internal": "x", "cart": "3"}})
    assert Thread.objects.get(pk=thread.pk).context == {
        "customVariables": [{"name": "plan", "label": "Plan", "value": "pro"}],
    }


def test_context_writers_with_stale_threads_keep_each_others_keys(acme) -> None:
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor)
    stale = Thread.objects.get(pk=thread.pk)
    services.thread_update_context(thread=thread, context={"identity_initiated_thread": True})
    services.thread_update_context(thread=stale, context={"pageViews": [{"url": "https://shop.example/"}]})
    assert Thread.objects.get(pk=thread.pk).context == {
        "identity_initiated_thread": True,
        "pageViews": [{"url": "https://shop.example/"}],
    }
    assert stale.context == Thread.objects.get(pk=thread.pk).context
