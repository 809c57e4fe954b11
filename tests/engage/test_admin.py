"""Django admin: an administrator sees and edits only their own tenant's objects."""

from __future__ import annotations

import pytest
from django.urls import reverse

from engage.models import Channel, CustomFieldDefinition, Membership, RoutingQueue


@pytest.fixture
def acme_admin_client(client, acme):
    client.force_login(acme.admin.user)
    return client


@pytest.mark.parametrize(
    "model_name",
    ["tenant", "brand", "channel", "membership", "routingqueue", "customfielddefinition", "businessunit"],
)
def test_changelists_show_only_own_tenant(acme_admin_client, acme, globex, model_name):
    response = acme_admin_client.get(reverse(f"admin:engage_{model_name}_changelist"))
    assert response.status_code == 200
    queryset = response.context["cl"].queryset
    tenant_ids = {row.pk if model_name == "tenant" else row.tenant_id for row in queryset}
    assert tenant_ids <= {acme.tenant.pk}


def test_channel_changelist_lists_exactly_acme_channels(acme_admin_client, acme, globex):
    response = acme_admin_client.get(reverse("admin:engage_channel_changelist"))
    assert sorted(c.channel_id for c in response.context["cl"].queryset) == ["chat_live", "chat_msg"]


def test_foreign_channel_change_page_is_not_shown(acme_admin_client, globex):
    url = reverse("admin:engage_channel_change", args=[globex.messaging.pk])
    response = acme_admin_client.get(url)
    assert response.status_code == 302
    assert b"globex_msg" not in response.content


def test_foreign_channel_cannot_be_changed_or_deleted(acme_admin_client, globex):
    change = reverse("admin:engage_channel_change", args=[globex.messaging.pk])
    acme_admin_client.post(change, {"name": "pwned"})
    delete = reverse("admin:engage_channel_delete", args=[globex.messaging.pk])
    acme_admin_client.post(delete, {"post": "yes"})
    channel = Channel.objects.get(pk=globex.messaging.pk)
    assert channel.name == "Globex messaging"


def test_add_form_offers_only_own_tenant_and_objects(acme_admin_client, acme, globex):
    response = acme_admin_client.get(reverse("admin:engage_routingqueue_add"))
    form = response.context["adminform"].form
    assert list(form.fields["tenant"].queryset) == [acme.tenant]
    assert {m.tenant_id for m in form.fields["agents"].queryset} == {acme.tenant.pk}
    assert {c.tenant_id for c in form.fields["channels"].queryset} == {acme.tenant.pk}


def test_admin_cannot_create_objects_in_another_tenant(acme_admin_client, acme, globex):
    response = acme_admin_client.post(
        reverse("admin:engage_customfielddefinition_add"),
        {
            "tenant": globex.tenant.pk,
            "ident": "sneaky",
            "label": "Sneaky",
            "scope": "contact",
            "field_type": "text",
            "choices": "[]",
            "order": 0,
        },
    )
    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    assert not CustomFieldDefinition.objects.filter(ident="sneaky").exists()


def test_admin_creates_objects_in_own_tenant(acme_admin_client, acme):
    response = acme_admin_client.post(
        reverse("admin:engage_routingqueue_add"),
        {"tenant": acme.tenant.pk, "name": "VIP", "priority": 1, "agents": [acme.alice.pk], "channels": []},
    )
    assert response.status_code == 302
    queue = RoutingQueue.objects.get(name="VIP")
    assert (queue.tenant, list(queue.agents.all())) == (acme.tenant, [acme.alice])


def test_agent_without_admin_role_sees_no_admin(client, acme):
    user = acme.alice.user
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(reverse("admin:engage_channel_changelist")).status_code == 403


def test_superuser_sees_every_tenant(client, acme, globex, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "parley-demo")
    client.force_login(root)
    response = client.get(reverse("admin:engage_channel_changelist"))
    assert sorted(c.channel_id for c in response.context["cl"].queryset) == ["chat_live", "chat_msg", "globex_msg"]


def test_channel_page_shows_snippet_and_sdk_configuration(acme_admin_client, acme):
    response = acme_admin_client.get(reverse("admin:engage_channel_change", args=[acme.messaging.pk]))
    html = response.content.decode()
    assert "/loader/1001/chat_msg.js" in html
    assert "&quot;gateway&quot;: &quot;ws://127.0.0.1:8000/ws/visitor&quot;" in html
    assert "&quot;authorize&quot;: &quot;http://127.0.0.1:8000&quot;" in html


@pytest.mark.parametrize("model_name", ["customer", "thread", "contact", "message", "attachment"])
def test_conversation_admin_is_scoped_too(acme_admin_client, acme, globex, model_name):
    from chat import services

    for cast in (acme, globex):
        thread, _ = services.thread_get_or_create(channel=cast.messaging, customer=cast.visitor, public_id="t")
        services.message_create(thread=thread, author_type="customer", content={"text": "hi"}, client_id="1")
    response = acme_admin_client.get(reverse(f"admin:chat_{model_name}_changelist"))
    assert response.status_code == 200
    assert {row.tenant_id for row in response.context["cl"].queryset} <= {acme.tenant.pk}


def test_membership_role_gates_admin(acme):
    assert Membership.objects.get(pk=acme.admin.pk).is_admin is True
    assert Membership.objects.get(pk=acme.alice.pk).is_admin is False
