from __future__ import annotations

import pytest

from chat import services
from engage.models import Channel, Membership
from engage.services import membership_set_presence
from guide.proactive.demo import seed_proactive_demo
from tests.factories.guide import button_create, invitation_create, trigger_create, variable_create


def _config_url(channel: Channel) -> str:
    return f"/guide/1.0/brand/{channel.brand.brand_id}/channel/{channel.channel_id}/proactive"


def _availability_url(channel: Channel) -> str:
    return f"/guide/1.0/brand/{channel.brand.brand_id}/channel/{channel.channel_id}/availability"


def _invite_on_pricing(acme):  # type: ignore[no-untyped-def]
    invitation = invitation_create(acme.live, name="Pricing help", online_title="Questions about plans?")
    button = button_create(acme.live, name="Help", offline_enabled=True, offline_text="Leave a message")
    variable_create(acme.live, name="plan", label="Plan", source="query_parameter", key="plan")
    trigger_create(
        acme.live,
        name="3rd page view",
        order=2,
        conditions=[{"fact": "visit.pageViews", "operator": "gte", "value": "3"}],
        actions=[{"kind": "showInvitation", "invitation": invitation}],
        once_per_visit=True,
    )
    trigger_create(
        acme.live,
        name="20 s on pricing",
        order=1,
        conditions=[
            {"fact": "page.path", "operator": "equals", "value": "/pricing"},
            {"fact": "page.timeOnPage", "operator": "gte", "value": "20"},
        ],
        actions=[{"kind": "showInvitation", "invitation": invitation}, {"kind": "showButton", "button": button}],
        only_if_agents_available=True,
        stop_here=True,
    )
    trigger_create(acme.live, name="inactive", is_active=False)
    return invitation, button


def test_config_lists_active_triggers_in_order_with_their_items(client, acme) -> None:
    invitation, button = _invite_on_pricing(acme)
    response = client.get(_config_url(acme.live))
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=60"
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    assert [t["name"] for t in body["triggers"]] == ["20 s on pricing", "3rd page view"]
    first = body["triggers"][0]
    assert first["rule"] == {
        "all": [
            {"fact": "page.path", "op": "equals", "value": "/pricing"},
            {"fact": "page.timeOnPage", "op": "gte", "value": 20},
        ]
    }
    assert (first["onlyIfAgentsAvailable"], first["oncePerVisit"], first["stopHere"]) == (True, False, True)
    assert first["actions"] == [
        {"kind": "showInvitation", "invitation": str(invitation.pk)},
        {"kind": "showButton", "button": str(button.pk)},
    ]
    assert body["buttons"][str(button.pk)]["offline"] == {"text": "Leave a message"}
    assert body["invitations"][str(invitation.pk)]["online"]["title"] == "Questions about plans?"
    assert body["invitations"][str(invitation.pk)]["offline"] is None
    assert body["variables"] == [
        {
            "name": "plan",
            "label": "Plan",
            "type": "string",
            "source": "query_parameter",
            "key": "plan",
            "attribute": "",
            "showToAgents": True,
        }
    ]
    assert body["timeZone"] == "Europe/Amsterdam"
    assert body["availabilityUrl"] == _availability_url(acme.live)


def test_config_answers_304_to_its_etag_and_changes_with_admin(client, acme) -> None:
    _invite_on_pricing(acme)
    first = client.get(_config_url(acme.live))
    etag = first["ETag"]
    assert client.get(_config_url(acme.live), HTTP_IF_NONE_MATCH=etag).status_code == 304
    trigger_create(acme.live, name="new")
    again = client.get(_config_url(acme.live), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200
    assert again["ETag"] != etag


def test_globex_sees_none_of_acmes_triggers(client, acme, globex) -> None:
    _invite_on_pricing(acme)
    body = client.get(_config_url(globex.messaging)).json()
    assert (body["triggers"], body["buttons"], body["invitations"], body["variables"]) == ([], {}, {}, [])


def test_unknown_or_disabled_channels_answer_404(client, acme) -> None:
    response = client.get("/guide/1.0/brand/1001/channel/nope/proactive")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Unknown brand or channel."}}
    acme.live.status = Channel.Status.MAINTENANCE
    acme.live.save()
    assert client.get(_availability_url(acme.live)).status_code == 404


def test_cors_is_limited_to_the_channels_origins(client, acme) -> None:
    acme.live.allowed_origins = ["https://shop.acme.example"]
    acme.live.save()
    allowed = client.get(_config_url(acme.live), HTTP_ORIGIN="https://shop.acme.example")
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.acme.example"
    other = client.get(_config_url(acme.live), HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other


def test_availability_is_1_only_with_an_available_agent_with_a_free_slot(client, acme) -> None:
    url = _availability_url(acme.live)
    assert client.get(url).json() == {"probability": 0.0, "online": False}
    membership_set_presence(membership=acme.alice, presence=Membership.Presence.AWAY)
    assert client.get(url).json()["probability"] == 0.0
    membership_set_presence(membership=acme.alice, presence=Membership.Presence.AVAILABLE, max_concurrent_contacts=1)
    assert client.get(url).json() == {"probability": 1.0, "online": True}
    thread, _ = services.thread_get_or_create(channel=acme.live, customer=acme.visitor)
    services.message_create(thread=thread, author_type="customer", content={"text": "hi"}, client_id="m1")
    contact = services.contact_open(thread=thread)
    services.contact_assign(contact=contact, agent=acme.alice)
    assert client.get(url).json()["probability"] == 0.0
    services.contact_set_status(contact=contact, status="closed")
    assert client.get(url).json()["probability"] == 1.0


def test_an_available_globex_agent_does_not_make_acme_available(client, acme, globex) -> None:
    membership_set_presence(membership=globex.admin, presence=Membership.Presence.AVAILABLE)
    assert client.get(_availability_url(acme.live)).json()["probability"] == 0.0
    assert client.get(_availability_url(globex.messaging)).json()["probability"] == 1.0


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_is_allowed(client, acme, method) -> None:
    assert getattr(client, method)(_config_url(acme.live)).status_code == 405


def test_the_loader_waits_for_the_chat_manager_only_when_triggers_exist(client, acme) -> None:
    import json as json_module

    def config() -> dict:
        source = client.get("/loader/1001/chat_live.js").content.decode()
        return json_module.loads(source[source.rindex("})(") + 3 : source.rindex(");")])

    assert "deferButton" not in config()
    trigger_create(acme.live, name="any page", actions=[{"kind": "openChat"}])
    acme.live.idle_timeout_minutes = 45
    acme.live.save()
    assert (config()["deferButton"], config()["visitIdleMinutes"]) == (True, 45)
    assert "triggers" not in json_module.dumps(config())


def test_the_loader_draws_its_button_at_once_when_the_first_trigger_shows_one_anyway(client, acme) -> None:
    import json as json_module

    def config(channel: str) -> dict:
        source = client.get(f"/loader/1001/{channel}.js").content.decode()
        return json_module.loads(source[source.rindex("})(") + 3 : source.rindex(");")])

    seed_proactive_demo()
    # chat_msg: the first trigger shows a button on every page; chat_live: only if agents are available.
    assert "deferButton" not in config("chat_msg")
    assert config("chat_live")["deferButton"] is True


def test_the_config_read_has_a_fixed_number_of_queries(client, acme, django_assert_num_queries) -> None:
    _invite_on_pricing(acme)
    for index in range(5):
        trigger_create(
            acme.live,
            name=f"extra {index}",
            conditions=[{"fact": "page.path", "operator": "isSet"}],
            actions=[{"kind": "openChat"}],
        )
    with django_assert_num_queries(8):
        assert client.get(_config_url(acme.live)).status_code == 200
