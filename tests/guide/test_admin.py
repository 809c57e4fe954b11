from __future__ import annotations

import pytest

from guide.models import Trigger
from tests.factories.guide import button_create, invitation_create, trigger_create, variable_create


@pytest.fixture
def acme_admin(client, acme):  # type: ignore[no-untyped-def]
    client.force_login(acme.admin.user)
    return client


@pytest.mark.parametrize("model", ["trigger", "chatbutton", "invitation", "customvariable"])
def test_changelists_show_only_the_admins_tenant(acme_admin, acme, globex, model) -> None:
    for cast, label in ((acme, "Acme item"), (globex, "Globex item")):
        channel = cast.live
        trigger_create(channel, name=label)
        button_create(channel, name=label)
        invitation_create(channel, name=label)
        variable_create(channel, name=label.replace(" ", "_"), label=label)
    response = acme_admin.get(f"/admin/guide/{model}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme item" in body or "Acme_item" in body
    assert "Globex" not in body


def test_a_foreign_trigger_cannot_be_seen_or_changed(acme_admin, globex) -> None:
    foreign = trigger_create(globex.messaging, name="Globex trigger")
    assert acme_admin.get(f"/admin/guide/trigger/{foreign.pk}/change/").status_code == 302
    acme_admin.post(f"/admin/guide/trigger/{foreign.pk}/delete/", {"post": "yes"})
    assert Trigger.objects.filter(pk=foreign.pk).exists()


def test_the_trigger_form_offers_only_own_channels_and_items(acme_admin, acme, globex) -> None:
    button_create(globex.messaging, name="Globex button")
    button_create(acme.live, name="Acme button")
    body = acme_admin.get("/admin/guide/trigger/add/").content.decode()
    assert "Acme button" in body and "Acme live chat" in body
    assert "Globex" not in body


def test_item_pages_carry_the_live_preview(acme_admin, acme) -> None:
    invitation = invitation_create(acme.live, name="Pricing help")
    body = acme_admin.get(f"/admin/guide/invitation/{invitation.pk}/change/").content.decode()
    assert 'class="parley-preview" data-kind="invitation"' in body
    assert "guide/admin/preview.js" in body
    body = acme_admin.get("/admin/guide/chatbutton/add/").content.decode()
    assert 'data-kind="button"' in body


def _formset(prefix: str, rows: list[dict]) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def test_a_trigger_is_added_with_ordered_conditions_and_actions(acme_admin, acme) -> None:
    invitation = invitation_create(acme.live, name="Pricing help")
    data = {
        "tenant": str(acme.tenant.pk),
        "channel": str(acme.live.pk),
        "name": "20 s on pricing",
        "order": "1",
        "is_active": "on",
        "only_if_agents_available": "on",
        **_formset(
            "conditions",
            [
                {"order": "0", "fact": "page.path", "operator": "endsWith", "value": "/pricing/"},
                {"order": "1", "fact": "page.timeOnPage", "operator": "gte", "value": "20"},
            ],
        ),
        **_formset("actions", [{"order": "0", "kind": "showInvitation", "invitation": str(invitation.pk)}]),
    }
    response = acme_admin.post("/admin/guide/trigger/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    trigger = Trigger.objects.get(name="20 s on pricing")
    assert trigger.rule() == {
        "all": [
            {"fact": "page.path", "op": "endsWith", "value": "/pricing/"},
            {"fact": "page.timeOnPage", "op": "gte", "value": 20},
        ]
    }
    assert list(trigger.actions.values_list("tenant_id", "kind", "invitation_id")) == [
        (acme.tenant.pk, "showInvitation", invitation.pk)
    ]


def test_an_invalid_condition_is_refused_in_admin(acme_admin, acme) -> None:
    data = {
        "tenant": str(acme.tenant.pk),
        "channel": str(acme.live.pk),
        "name": "broken",
        "order": "1",
        **_formset("conditions", [{"order": "0", "fact": "page.url", "operator": "matches", "value": "(unclosed"}]),
        **_formset("actions", []),
    }
    response = acme_admin.post("/admin/guide/trigger/add/", data)
    assert response.status_code == 200
    assert "Invalid regular expression" in response.content.decode()
    assert not Trigger.objects.filter(name="broken").exists()
