"""The console pages: login, the console shell and the workspace chooser."""

from __future__ import annotations

import pytest
from django.test import Client

from engage.models import Membership

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(acme):
    response = Client().get("/console/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/console/"
    login = Client().get("/accounts/login/?next=/console/")
    assert login.status_code == 200
    assert b'name="username"' in login.content
    assert b'value="/console/"' in login.content


def test_demo_agents_log_in_with_the_demo_password(acme):
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": "parley-demo", "next": "/console/"})
    assert (response.status_code, response["Location"]) == (302, "/console/")
    page = client.get("/console/")
    assert page.status_code == 200
    config = page.context["config"]
    assert config["agent"] == {"id": acme.alice.pk, "name": "Alice Agent", "role": "agent", "presence": "offline"}
    assert config["tenant"] == {"id": acme.tenant.pk, "slug": "acme", "name": "Acme"}
    assert config["socket"] == "ws://testserver/ws/console?tenant=acme"
    assert b'id="parley-console-config"' in page.content
    # Only administrators get the "All open" view.
    assert b'data-view="all"' not in page.content


def test_a_wrong_password_is_refused(acme):
    response = Client().post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_a_user_without_membership_sees_no_console(acme, user_model):
    user = user_model.objects.create_user("drifter", password="x")
    client = Client()
    client.force_login(user)
    response = client.get("/console/")
    assert response.status_code == 403
    assert b"not an agent of any workspace" in response.content


def test_a_member_of_two_tenants_chooses_one(acme, globex):
    Membership.objects.create(user=acme.alice.user, tenant=globex.tenant)
    client = Client()
    client.force_login(acme.alice.user)
    chooser = client.get("/console/")
    assert chooser.status_code == 200
    assert b"?tenant=acme" in chooser.content and b"?tenant=globex" in chooser.content
    page = client.get("/console/?tenant=globex")
    assert page.context["config"]["tenant"]["slug"] == "globex"
    assert page.context["config"]["socket"].endswith("?tenant=globex")


def test_a_member_cannot_open_another_tenants_console(acme, globex):
    client = Client()
    client.force_login(acme.alice.user)
    response = client.get("/console/?tenant=globex")
    assert response.status_code == 200
    assert "config" not in response.context
    assert b"?tenant=acme" in response.content
    assert b"globex" not in response.content.lower()


def test_signing_out_makes_the_agent_offline(acme, published, django_capture_on_commit_callbacks):
    acme.alice.presence = "available"
    acme.alice.save()
    client = Client()
    client.force_login(acme.alice.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/logout/")
    assert response.status_code in (200, 302)
    acme.alice.refresh_from_db()
    assert acme.alice.presence == "offline"
    assert [(e.name, e.membership_id, e.presence) for e in published] == [
        ("presence.changed", acme.alice.pk, "offline")
    ]
